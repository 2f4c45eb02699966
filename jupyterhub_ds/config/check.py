"""``jupyterhub-ds check-config PATH [--env]``: print every problem of an admin YAML."""

import os
import sys

from .loader import check_file, unsafe_lines


def add_arguments(parser):
    parser.add_argument("path", metavar="PATH", help="the admin YAML, e.g. hub_config/jupyterhub_ds.yaml")
    parser.add_argument(
        "--env",
        action="store_true",
        help="also check that the environment variables the hub needs (secrets) are set",
    )


def summary(config):
    lanes = sum(len(p["lanes"]) for p in config["promotion"]["projects"])
    return f"{len(config['profiles'])} profiles, {lanes} promotion lanes"


def run(args):
    lines, config = check_file(args.path, env=dict(os.environ) if args.env else None)
    if lines:
        for line in lines:
            print(line)
        print(f"{len(lines)} problem(s) in {args.path}", file=sys.stderr)
        return 1
    unsafe = unsafe_lines(args.path, config)
    for line in unsafe:
        print(line)
    named = f"; {len(unsafe)} unsafe choice(s) named above" if unsafe else ""
    print(f"OK: {args.path} ({summary(config)}{named})")
    return 0
