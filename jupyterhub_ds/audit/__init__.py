"""The audit trail: versioned event schemas, one JSON-lines sink, and the reader.

Every event is a ``jupyter_events`` event (the library JupyterHub and Jupyter Server emit
their own events with): a versioned JSON Schema per kind (``schemas/*.yaml``), validated
before it is written, wrapped with ``__timestamp__``, ``__schema__`` and
``__schema_version__``. The kinds:

- ``auth``       login, logout, groups and admin right changed, access revoked (the hub);
- ``server``     a server spawned (profile, image, limits), failed to, stopped (the hub);
- ``review``     a submit, a refusal by the gates, a failed submit (the user's server,
                 *through the hub*: :mod:`jupyterhub_ds.audit.hub`);
- ``promotion``  the promotion service's runs, rollbacks and refusals;
- ``admin``      requests that change something through the hub's REST API for someone else.

JupyterHub's own ``server-action`` events (start, stop) go to the same sink.

One sink: the JSON-lines file the admin YAML names (``audit.path``), appended to by the hub
and by the promotion service, each line written whole under a lock
(:class:`~jupyterhub_ds.audit.sink.AuditFileHandler`). No schema has a field for a token,
notebook content or a request's query string.

This module needs only ``jupyter_events``; the hub's side lives in :mod:`.hub`, the
``jupyterhub-ds audit`` reader in :mod:`.query`.
"""

from __future__ import annotations

import logging
from pathlib import Path

SCHEMA_BASE = "https://jupyterhub-ds.invalid/events/"
AUTH = SCHEMA_BASE + "auth"
SERVER = SCHEMA_BASE + "server"
REVIEW = SCHEMA_BASE + "review"
PROMOTION = SCHEMA_BASE + "promotion"
ADMIN = SCHEMA_BASE + "admin"
SCHEMA_DIR = Path(__file__).with_name("schemas")
# JupyterHub's own event of server starts and stops (jupyterhub/event-schemas/server-actions)
JUPYTERHUB_SERVER_ACTION = "https://schema.jupyter.org/jupyterhub/events/server-action"
# the environment variable that hands the sink's path to the promotion service
PATH_ENV = "JUPYTERHUB_DS_AUDIT_PATH"
# Scope a server's token needs to report its user's review events to the hub (with ``!user``:
# POST /hub/api/jupyterhub-ds/users/:name/events for its own user only).
EVENTS_SCOPE = "custom:jupyterhub-ds:audit"

log = logging.getLogger("jupyterhub_ds.audit")


def schema_files():
    """The event schema files of jupyterhub-ds, one per kind."""
    return sorted(SCHEMA_DIR.glob("*.yaml"))


def register_schemas(eventlog):
    """Register every jupyterhub-ds schema on ``eventlog`` (a ``jupyter_events.EventLogger``)."""
    for path in schema_files():
        if _schema_id(path) not in eventlog.schemas:
            eventlog.register_event_schema(path)


def _schema_id(path):
    return SCHEMA_BASE + path.stem


def event_logger(path=None, **kwargs):
    """A ``jupyter_events.EventLogger`` with the jupyterhub-ds schemas registered, writing to the
    audit file at ``path`` when given (the promotion service's; the hub uses its own)."""
    from jupyter_events.logger import EventLogger

    from .sink import AuditFileHandler

    eventlog = EventLogger(**kwargs)
    register_schemas(eventlog)
    if path:
        eventlog.register_handler(AuditFileHandler(path))
    return eventlog


def emit(eventlog, schema_id, data):
    """Validate and write one event; never raises (an audit problem must not fail a login or a
    promotion): an invalid event or an unwritable sink is logged as an error, naming the
    schema and the problem, never the event's values."""
    if eventlog is None:
        return None
    try:
        return eventlog.emit(schema_id=schema_id, data={k: v for k, v in data.items() if v is not None})
    except Exception as e:  # jsonschema's ValidationError, OSError from the sink
        reason = getattr(e, "message", None) or type(e).__name__
        where = "/".join(str(p) for p in getattr(e, "absolute_path", ()))
        log.error("audit event of %s not written: %s%s", schema_id, reason[:200], f" (at {where})" if where else "")
        return None
