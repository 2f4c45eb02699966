"""``jupyterhub-ds export z2jh ADMIN.yaml [-o values.yaml]``: Helm values for Zero to JupyterHub.

The admin YAML is checked first with the project's own loader (``check_file``); any problem
is printed as ``check-config`` prints it and nothing is written. Settings that do not carry
over are printed on stderr and listed as comments at the top of the values.
"""

import os
import sys

import yaml

from .._version import __version__
from ..config.loader import check_file
from ..config.problems import format_problem, sort_key
from ..config.source import ConfigSourceError, read_source
from . import z2jh


def add_arguments(parser):
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    p = sub.add_parser(
        "z2jh",
        help="Helm values for Zero to JupyterHub (Kubernetes)",
        description=f"Write Helm values for the {z2jh.CHART} carrying the admin YAML's policy. "
        "Settings without a Kubernetes equivalent are printed on stderr and listed at the top of the values.",
    )
    p.add_argument("path", metavar="ADMIN.yaml", help="the admin YAML, e.g. hub_config/jupyterhub_ds.yaml")
    p.add_argument("-o", "--output", metavar="VALUES.yaml", help="write the values here (default: standard output)")
    p.add_argument(
        "--secret-name",
        default=z2jh.SECRET_NAME,
        help="the Kubernetes Secret holding the hub's secrets (default: %(default)s)",
    )
    p.add_argument(
        "--hub-image",
        default=z2jh.HUB_IMAGE,
        help="the chart's hub image with jupyterhub-ds installed (default: %(default)s)",
    )
    p.set_defaults(_export=run_z2jh)


def run(args):
    return args._export(args)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the hub.extraConfig code) as ``|`` blocks, readable in review."""


def _str(dumper, text):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def header(path, lines, keys, secret_name):
    """The comment block at the top of the values file."""
    out = [
        f"# Zero to JupyterHub values exported by jupyterhub-ds {__version__} (jupyterhub-ds export z2jh) from {path}",
        f"# Target: {z2jh.CHART}; see docs/kubernetes.md.",
        "#   helm upgrade --install jupyterhub jupyterhub/jupyterhub --version 4.4.0 --values THIS_FILE",
        "# Secrets are referenced here, never written. Before installing, create the Secret",
        f"# {secret_name!r} in the release's namespace with these keys:",
    ]
    width = max(len(k) for k in keys)
    out += [f"#   {k.ljust(width)}  {why}" for k, why in keys.items()]
    out.append("# hub.image must be the chart's hub image with jupyterhub-ds installed (docs/kubernetes.md).")
    out.append("#")
    if lines:
        out.append(f"# Not carried over ({len(lines)}); review each before installing:")
        out += [f"#   {line}" for line in lines]
    else:
        out.append("# Every setting of the admin YAML is carried over.")
    return "\n".join(out) + "\n"


def run_z2jh(args):
    lines, config = check_file(args.path)
    if lines:
        for line in lines:
            print(line)
        print(f"{len(lines)} problem(s) in {args.path}; nothing exported", file=sys.stderr)
        return 1
    values, problems = z2jh.export(
        config,
        secret_name=args.secret_name,
        hub_image=args.hub_image,
        base_dir=os.path.dirname(os.path.abspath(args.path)),
    )
    try:
        source = read_source(args.path)
    except ConfigSourceError as err:  # it was just read; only a race could get here
        print(err, file=sys.stderr)
        return 1
    report = [
        format_problem(p, source.name, source.lines) for p in sorted(problems, key=lambda p: sort_key(p, source.lines))
    ]
    text = header(args.path, report, z2jh.secret_keys(config), args.secret_name)
    text += yaml.dump(values, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    for line in report:
        print(line, file=sys.stderr)
    where = args.output or "standard output"
    print(f"exported {args.path} to {where}: {len(report)} setting(s) not carried over", file=sys.stderr)
    return 0
