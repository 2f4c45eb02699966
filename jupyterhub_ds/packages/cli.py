"""``jupyterhub-ds packages check IMAGE [--config ADMIN.yaml] [--json]``.

Lists what the image holds (name, version, licence of every Python distribution, read in a
throwaway container of it: :mod:`.inventory`) and refuses what is outside the package policy
of the admin YAML (its ``packages:`` section; ``--config``, default ``$JUPYTERHUB_DS_CONFIG``;
neither: the default refused licence words only), one line per problem naming the
distribution. Exit 0: within policy; 1: refused (or the image could not be listed); 2: the
admin YAML has problems.
"""

from __future__ import annotations

import json
import os
import sys

from .inventory import InventoryError, list_image
from .policy import PackagePolicy, image_problems, licence_text


def load_policy(config_path):
    """The PackagePolicy of an admin YAML (None: the defaults); ValueError names the problems."""
    if not config_path:
        return PackagePolicy()
    from ..config import check_file
    from ..config.loader import package_policy

    lines, config = check_file(config_path)
    if lines:
        raise ValueError(
            "\n".join(lines) + f"\n{len(lines)} problem(s) in {config_path}; fix them first "
            f"(jupyterhub-ds check-config {config_path})"
        )
    return package_policy(config, os.path.dirname(os.path.abspath(config_path)))


def check_image(image, policy):
    """-> (installed distributions, problems). Raises InventoryError when the image cannot be read."""
    installed = list_image(image)
    try:
        return installed, image_problems(installed, policy)
    except ValueError as e:  # the vulnerability database (osv.DatabaseError)
        raise InventoryError(str(e)) from None


def table(installed):
    rows = [
        (d["name"], d.get("version", "") or "?", " ".join(licence_text(d).split())[:60] or "(none)")
        for d in sorted(installed, key=lambda d: d["name"].lower())
    ]
    widths = [max([len(r[i]) for r in rows] + [len(h)]) for i, h in enumerate(("name", "version", "licence"))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("name", "version", "licence"), widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def add_arguments(parser):
    sub = parser.add_subparsers(dest="packages_command", metavar="ACTION")
    c = sub.add_parser(
        "check",
        help="list an image's Python packages and refuse what is outside the package policy",
        description=__doc__.split("\n\n")[1],
    )
    c.add_argument("image", metavar="IMAGE", help="a local image, e.g. jupyterhub-ds/singleuser-scipy:latest")
    c.add_argument(
        "--config",
        metavar="ADMIN.yaml",
        default=os.environ.get("JUPYTERHUB_DS_CONFIG"),
        help="the admin YAML whose packages: section is the policy (default: $JUPYTERHUB_DS_CONFIG; "
        "none: the default refused licences only)",
    )
    c.add_argument("--json", action="store_true", help="print {image, policy, packages, problems} as JSON")


def run(args):
    if getattr(args, "packages_command", None) != "check":
        print("usage: jupyterhub-ds packages check IMAGE [--config ADMIN.yaml] [--json]", file=sys.stderr)
        return 2
    try:
        policy = load_policy(args.config)
    except (ValueError, OSError) as e:
        print(f"packages check: {e}", file=sys.stderr)
        return 2
    try:
        installed, problems = check_image(args.image, policy)
    except InventoryError as e:
        print(f"packages check: {e}", file=sys.stderr)
        return 1
    source = args.config or "the default policy (refused licences only)"
    if args.json:
        print(
            json.dumps(
                {"image": args.image, "policy": source, "packages": installed, "problems": problems},
                indent=1,
                sort_keys=True,
            )
        )
    else:
        print(f"{args.image}: {len(installed)} Python distributions")
        print("\n".join(table(installed)))
        for problem in problems:
            print(f"refused: {problem}")
    if problems:
        print(
            f"packages check: {args.image} holds {len(problems)} thing(s) outside the package policy of {source}",
            file=sys.stderr,
        )
        return 1
    print(f"packages check: {args.image} is within the package policy of {source}", file=sys.stderr)
    return 0
