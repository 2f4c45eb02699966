"""``jupyterhub-ds audit [--user U] [--action A] [--since T] [--path FILE]``: read the audit trail.

Prints the events of the audit file that match, oldest first, as the JSON lines they are
(``--text``: one short line each). The file is the admin YAML's ``audit.path``
(``--config``, default ``$JUPYTERHUB_DS_CONFIG``) unless ``--path`` names it.

- ``--user U`` : events about U or done by U (``user``, JupyterHub's ``username``, ``actor``);
- ``--action A``: ``A`` itself or below it: ``login``, ``server`` (``server.spawn``, ...),
  ``promotion.run``, ``review.refused``. JupyterHub's own start/stop events count as
  ``server.start`` and ``server.stop``;
- ``--since T`` : an ISO time (``2025-06-01``, ``2025-06-01T08:00:00+02:00``; no zone: UTC) or
  an age (``30m``, ``12h``, ``7d``).

The reading core (:func:`parse_line`, :func:`matches`, :func:`parse_since`) is pure.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime, timedelta, timezone

from . import JUPYTERHUB_SERVER_ACTION

MAX_LINE = 1024 * 1024  # a longer line is not an event of ours: skipped with a warning
CHUNK = 1024 * 1024
# what a terminal acts on or shows as a line break: C0 (but space), DEL, C1, the Unicode line separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_AGE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text):
    """The ``__timestamp__`` of an event (jupyter_events writes ``...+00:00Z``) as an aware datetime."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] if ("+" in text[10:] or text[10:].count("-")) else text[:-1] + "+00:00"
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def parse_since(text, now=None):
    """``--since``: an age (``7d``) before ``now``, or an ISO date/time; ValueError says how to write it."""
    now = now or datetime.now(timezone.utc)
    match = _AGE.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        return parse_time(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give an ISO date or time (2025-06-01, 2025-06-01T08:00:00+02:00) "
            "or an age (30m, 12h, 7d)"
        ) from None


def normalise(event):
    """``(time, action, users)`` of an event: JupyterHub's server-action events get the action
    ``server.<start|stop>`` and their ``username`` counts as the user."""
    action = str(event.get("action", ""))
    if event.get("__schema__") == JUPYTERHUB_SERVER_ACTION:
        action = f"server.{action}"
    users = {event.get(k) for k in ("user", "username", "actor") if isinstance(event.get(k), str)}
    try:
        when = parse_time(str(event.get("__timestamp__", "")))
    except ValueError:
        when = None
    return when, action, users


def matches(event, user=None, action=None, since=None):
    when, kind, users = normalise(event)
    if user is not None and user not in users:
        return False
    if action is not None and not (kind == action or kind.startswith(action.rstrip(".") + ".")):
        return False
    if since is not None and (when is None or when < since):
        return False
    return True


def parse_line(line):
    """One line of the file -> the event dict, or None (blank, not JSON, not an object)."""
    line = line.strip()
    if not line:
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _lines(f):
    """The lines of the binary file ``f``, each read with at most :data:`MAX_LINE` bytes in memory:
    a longer one is ``(None, its length)``, read past in chunks."""
    while True:
        raw = f.readline(MAX_LINE + 1)
        if not raw:
            return
        if len(raw) <= MAX_LINE:
            yield raw, len(raw)
            continue
        size = len(raw)
        while not raw.endswith(b"\n"):
            raw = f.readline(CHUNK)
            if not raw:
                break
            size += len(raw)
        yield None, size


def read_events(path, warn=None):
    """The events of the file at ``path``, oldest first (streamed; overlong lines skipped)."""
    with open(path, "rb") as f:
        for number, (raw, size) in enumerate(_lines(f), 1):
            if raw is None:
                if warn:
                    warn(f"{path}:{number}: a line of {size} bytes is not an event; skipped")
                continue
            event = parse_line(raw.decode("utf-8", "replace"))
            if event is None:
                if raw.strip() and warn:
                    warn(f"{path}:{number}: not a JSON event; skipped")
                continue
            yield event


def _shown(value):
    """``value`` as text a terminal prints as it is: control characters written as escapes."""
    return _CONTROL.sub(lambda m: json.dumps(m[0])[1:-1], str(value))


def text_line(event):
    """One short line for people: time, action, user, the facts. Nothing of the event reaches the
    terminal unescaped (a user's name from a request path, a made-up line in the file)."""
    when, action, users = normalise(event)
    skip = {"action", "user", "username", "__schema__", "__schema_version__", "__metadata_version__", "__timestamp__"}
    facts = " ".join(f"{_shown(k)}={json.dumps(v, sort_keys=True)}" for k, v in event.items() if k not in skip)
    who = event.get("user") or event.get("username") or "-"
    stamp = when.isoformat(timespec="seconds") if when else "?"
    return f"{stamp} {_shown(action) or '?'} {_shown(who)} {facts}".rstrip()


def add_arguments(parser):
    parser.add_argument("--user", metavar="U", help="only events about or by this hub user")
    parser.add_argument(
        "--action", metavar="A", help="only this action or those below it (login, server, promotion.run)"
    )
    parser.add_argument("--since", metavar="T", help="only events at or after T: an ISO time or an age (12h, 7d)")
    parser.add_argument("--path", metavar="FILE", help="the audit file (default: audit.path of the admin YAML)")
    parser.add_argument(
        "--config",
        metavar="ADMIN.yaml",
        default=os.environ.get("JUPYTERHUB_DS_CONFIG"),
        help="the admin YAML whose audit.path to read (default: $JUPYTERHUB_DS_CONFIG)",
    )
    parser.add_argument("--text", action="store_true", help="one short line per event instead of its JSON")


def audit_path_of(config_path):
    """The audit file an admin YAML names, or a ValueError that says what to do."""
    from ..config import check_file

    lines, config = check_file(config_path)
    if lines:
        raise ValueError(f"{config_path} has problems; run jupyterhub-ds check-config {config_path}")
    if not config["audit"]["path"]:
        raise ValueError(
            f"{config_path} sets no audit.path, so the hub writes no audit trail; set it (and restart "
            "the hub), or give the file with --path"
        )
    from ..config.loader import audit_path

    return audit_path(config, os.path.dirname(os.path.abspath(config_path)))


def run(args):
    try:
        since = parse_since(args.since) if args.since else None
        if args.path:
            path = args.path
        elif args.config:
            path = audit_path_of(args.config)
        else:
            raise ValueError("no audit file: give --path FILE, or --config ADMIN.yaml (or set JUPYTERHUB_DS_CONFIG)")
    except ValueError as e:
        print(f"audit: {e}", file=sys.stderr)
        return 2
    shown = 0
    try:
        for event in read_events(path, warn=lambda m: print(f"audit: {m}", file=sys.stderr)):
            if matches(event, args.user, args.action, since):
                print(text_line(event) if args.text else json.dumps(event, sort_keys=True), flush=False)
                shown += 1
    except FileNotFoundError:
        print(
            f"audit: {path}: no such file; nothing was written yet, or audit.path names another file", file=sys.stderr
        )
        return 1
    except PermissionError:
        print(f"audit: {path}: permission denied; read it as the hub's user", file=sys.stderr)
        return 1
    sys.stdout.flush()
    print(f"{shown} event(s)", file=sys.stderr)
    return 0
