"""The hub's SQLite database in write-ahead-log mode.

JupyterHub commits several times per login (the user, their roles and groups, auth_state, the
cookie's session) and SQLite's default journal waits for the disk at each commit (an fsync on
the hub's one thread), so at a team's morning login each commit waited for the ones before.
In WAL mode with ``synchronous=NORMAL`` a commit is written to the log without waiting for the
disk; the log is synced at checkpoints. A crash of the hub loses nothing; a power cut may lose
the last commits (a login to redo), never the database's integrity (SQLite's documentation:
"WAL mode is safe from corruption with synchronous=NORMAL").

hub_config/jupyterhub_config.py applies it to a ``sqlite://`` ``hub.db_url``; an admin who wants
every commit on disk first sets ``c.JupyterHub.db_kwargs = {}`` in ``jupyterhub_config.d``.
"""

from __future__ import annotations

import sqlite3


class WALConnection(sqlite3.Connection):
    """A SQLite connection that puts its database in WAL mode with synchronous=NORMAL."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA journal_mode=WAL")
        self.execute("PRAGMA synchronous=NORMAL")


def sqlite_wal_db_kwargs(db_url: str, db_kwargs: dict) -> dict:
    """``JupyterHub.db_kwargs`` with WAL connections for a SQLite ``db_url`` (others unchanged).
    JupyterHub's own connect argument for SQLite (``check_same_thread=False``) is kept."""
    if not db_url.startswith("sqlite") or db_url.endswith(":memory:"):
        return dict(db_kwargs)
    connect_args = {"check_same_thread": False, **db_kwargs.get("connect_args", {}), "factory": WALConnection}
    return {**db_kwargs, "connect_args": connect_args}
