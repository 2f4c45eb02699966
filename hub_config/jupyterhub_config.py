"""JupyterHub config of jupyterhub-ds: load the admin YAML, then the escape hatch.

    jupyterhub -f hub_config/jupyterhub_config.py

The admin YAML is env ``JUPYTERHUB_DS_CONFIG`` (required: without it the hub refuses to start,
rather than run with an example file). It is validated completely first; on any problem the
same lines as ``jupyterhub-ds check-config --env`` go to stderr and the hub does not start; the
unsafe choices it makes (as check-config names them) go to the log. A SQLite hub database is
used in write-ahead-log mode (``jupyterhub_ds.hub_db``). Then every
``jupyterhub_config.d/*.py`` beside the YAML runs in name order with ``c`` in scope, for
settings the YAML does not cover.
"""

import os
import sys
from pathlib import Path

from jupyterhub_ds.config import AdminConfigError, check_file, load_config, unsafe_lines
from jupyterhub_ds.hub_db import sqlite_wal_db_kwargs

c = get_config()  # provided by traitlets when it runs this file

if not os.environ.get("JUPYTERHUB_DS_CONFIG"):
    print(
        "jupyterhub-ds: refusing to start: JUPYTERHUB_DS_CONFIG is not set. Point it at your admin YAML "
        "(start from a copy of hub_config/jupyterhub_ds.yaml, check it with `jupyterhub-ds check-config PATH`), e.g. "
        "JUPYTERHUB_DS_CONFIG=/etc/jupyterhub-ds/jupyterhub_ds.yaml",
        file=sys.stderr,
    )
    raise SystemExit(1)
_yaml_path = Path(os.environ["JUPYTERHUB_DS_CONFIG"])

try:
    c.merge(load_config(_yaml_path, dict(os.environ)))
    for _line in unsafe_lines(_yaml_path, check_file(_yaml_path)[1]):
        print(f"jupyterhub-ds: {_line}", file=sys.stderr)
except AdminConfigError as err:
    for _line in err.lines:
        print(_line, file=sys.stderr)
    print(
        f"jupyterhub-ds: refusing to start: {len(err.lines)} problem(s) in {_yaml_path}; "
        f"check it with: jupyterhub-ds check-config {_yaml_path} --env",
        file=sys.stderr,
    )
    sys.stderr.flush()
    raise SystemExit(1) from None

# a SQLite hub database in write-ahead-log mode: commits do not wait for the disk (jupyterhub_ds.hub_db)
c.JupyterHub.db_kwargs = sqlite_wal_db_kwargs(c.JupyterHub.db_url, dict(c.JupyterHub.get("db_kwargs", {})))

for _extra in sorted((_yaml_path.parent / "jupyterhub_config.d").glob("*.py")):
    exec(
        compile(_extra.read_text(encoding="utf-8"), str(_extra), "exec"),
        {"c": c, "get_config": get_config, "__file__": str(_extra)},
    )
