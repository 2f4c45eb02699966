"""The ``jupyterhub-ds`` command line.

Each subcommand lives in the module that owns its idea; this file only wires them up.
A subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``.
"""

import argparse
import importlib
import sys

from ._version import __version__

# subcommand name -> (module, one-line help). Modules are imported lazily so that
# ``check-config`` works with only the base install (no jupyterhub, no docker).
SUBCOMMANDS = {
    "check-config": ("jupyterhub_ds.config.check", "validate an admin YAML file and print every problem"),
    "images": ("jupyterhub_ds.images", "build the air-gapped base and single-user images"),
    "export": (
        "jupyterhub_ds.export.cli",
        "write another platform's configuration from an admin YAML (z2jh: Kubernetes)",
    ),
    "audit": ("jupyterhub_ds.audit.query", "print the audit trail's events, filtered by user, action and time"),
    "packages": ("jupyterhub_ds.packages.cli", "check an image's Python packages against the package policy"),
    "doctor": ("jupyterhub_ds.doctor.cli", "check that a running deployment is hardened: pass or fail, with the fix"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="jupyterhub-ds",
        description="jupyterhub-ds: governed data science workbench on JupyterHub",
    )
    parser.add_argument("--version", action="version", version=f"jupyterhub-ds {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
