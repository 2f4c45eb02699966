"""Review events for the hub's audit trail and metrics: built here, written by the hub.

The extension runs in the user's container, so it never writes the audit trail itself: each
submit's outcome goes to ``POST /hub/api/jupyterhub-ds/users/:name/events`` with the server's
token (scope ``custom:jupyterhub-ds:audit!user``), where the hub validates it against the
review event schema, sets the user and the time, writes it and counts it
(``jupyterhub_ds.audit.hub``). The events carry paths, the branch and the merge request,
never notebook content or a token.

The builders are pure; :func:`post` is blocking (the extension's thread pool) and bounded in
time; a hub that does not take the event is logged, never failing the submit.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import PurePosixPath
from urllib.parse import quote

from . import identity

TIMEOUT = 5.0
MAX_PATH = 512


def _paths(api_path):
    """The notebook and its paired script (what a submit commits)."""
    if not isinstance(api_path, str) or not api_path:
        return []
    path = api_path.strip("/")[:MAX_PATH]
    script = str(PurePosixPath(path).with_suffix(".py")) if path.endswith(".ipynb") else None
    return [path] + ([script] if script else [])


def project_of(web_url):
    """``http://gitlab/ns/project/-/merge_requests/3`` -> ``ns/project`` (None if not such a URL)."""
    if not isinstance(web_url, str) or "/-/merge_requests/" not in web_url:
        return None
    before = web_url.split("/-/merge_requests/", 1)[0]
    parts = before.split("://", 1)[-1].split("/", 1)
    return parts[1] if len(parts) == 2 and parts[1] else None


def submitted(result, seconds):
    """The event of a submit that opened or updated its merge request."""
    mr = result.get("mr") or {}
    event = {
        "action": "review.submit",
        "paths": _paths(result.get("path")),
        "branch": result.get("branch"),
        "mr_iid": mr.get("iid"),
        "mr_url": mr.get("web_url"),
        "project": project_of(mr.get("web_url")),
        "created": bool(result.get("created")),
        "latency_seconds": round(max(seconds, 0.0), 3),
    }
    return {k: v for k, v in event.items() if v is not None}


def refused(api_path, status, gates, seconds):
    """The event of a submit that did not happen: refused by the gates (422, which ones), or failed."""
    event = {"paths": _paths(api_path), "status": int(status), "latency_seconds": round(max(seconds, 0.0), 3)}
    if status == 422 and gates is not None:
        failed = sorted({g.get("gate") for g in gates if not g.get("ok")} - {None})
        return {"action": "review.refused", "gates": failed, **event}
    return {"action": "review.failed", **event}


def post(event, environ=None, timeout=TIMEOUT):
    """Send ``event`` to the hub (blocking): True when it took it, False when this server does not
    run under a hub. Raises LookupError/OSError when the hub does not take it."""
    try:
        api_url, api_token, user = identity.hub_env(environ)
    except LookupError:
        return False
    req = urllib.request.Request(
        f"{api_url.rstrip('/')}/jupyterhub-ds/users/{quote(user, safe='')}/events",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Authorization": f"token {api_token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read(1024)
        return True
    except urllib.error.HTTPError as e:
        raise LookupError(
            f"the hub answered {e.code} to the audit event: {e.read(1024).decode(errors='replace')}"
        ) from None
