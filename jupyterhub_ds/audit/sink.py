"""The audit sink: one JSON-lines file that the hub and the promotion service append to.

Two processes write the same file, so every event is written the way ``logging.FileHandler``
cannot guarantee: the file opened with ``O_APPEND`` (each write lands at the end, whatever
the other process wrote meanwhile), an exclusive ``flock`` held around the one ``write`` of
the whole line (no interleaving, even for lines longer than a pipe buffer), then closed. It is
opened anew for every event, so a log rotation that moves the file away (``logrotate``
``create``) is picked up at the next event. New files are made ``0600``: readable by the
hub's user only.
"""

from __future__ import annotations

import fcntl
import logging
import os

log = logging.getLogger("jupyterhub_ds.audit")
MAX_LINE_BYTES = 256 * 1024  # no event comes near it: the schemas bound every field


class AuditFileHandler(logging.Handler):
    """A ``logging.Handler`` for ``jupyter_events.EventLogger``: one formatted event per line."""

    def __init__(self, path, level=logging.NOTSET):
        super().__init__(level)
        self.path = os.fspath(path)

    def emit(self, record):
        try:
            line = self.format(record).replace("\n", " ").encode("utf-8") + b"\n"
        except Exception:  # a formatting problem is the code's, not the admin's
            self.handleError(record)
            return
        if len(line) > MAX_LINE_BYTES:
            log.error(
                "audit event of %s not written: %d bytes is more than %d",
                record.msg.get("__schema__", "?") if isinstance(record.msg, dict) else "?",
                len(line),
                MAX_LINE_BYTES,
            )
            return
        try:
            append_line(self.path, line)
        except OSError as e:
            log.error(
                "audit event not written to %s: %s; check that the folder exists and the hub's user may "
                "write the file (audit.path in the admin YAML)",
                self.path,
                e.strerror or e,
            )


def append_line(path, data: bytes):
    """Append ``data`` (one line) to ``path`` under an exclusive lock, creating the file 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)  # releases the lock
