"""The hub's side of the audit trail and of the jupyterhub-ds metrics.

:func:`install` runs once, from ``DSGitLabOAuthenticator.get_handlers(app)`` (the hub's own
hook for an authenticator's handlers): it registers the event schemas on JupyterHub's event
logger (``app.eventlog``, where JupyterHub's own ``server-action`` events go too), adds the
audit file as its sink (``AuditTrail.path``, from ``audit.path``), listens to JupyterHub's
server starts (a spawn's success), wraps the request log function (admin actions), starts
the Docker stats of the user containers (:class:`jupyterhub_ds.metrics.ContainerStats`) and
returns the events endpoint for users' servers.

**Events from users' servers.** The review extension runs in the user's container, which
the user controls, so it never writes the trail itself: it posts its event to
``POST /hub/api/jupyterhub-ds/users/:name/events`` with its server's token, which carries
``custom:jupyterhub-ds:audit!user`` (for its own user only). The hub then

- refuses a body over ``AuditTrail.server_event_max_bytes`` (413), more than
  ``AuditTrail.server_events_per_minute`` posts per user (429, valid or not), an event with a
  ``user`` (400: the hub says who) and one the review schema refuses (400: unknown action or
  field, a gate not in the list, a path too long, ...);
- sets ``user`` to the token's owner, adds the time, writes it and counts it in the metrics.

So a user can neither write an event for someone else, nor change who or when, nor touch the
file (it is on the hub's host); the metrics they can move are their own submission counts,
at most that many per minute, with labels from closed sets (outcome, gate names).

The other hooks (login, logout, groups and admin changes, revocation, spawn, stop) are called
by the authenticator and the spawner with what they know.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import needs_scope
from jupyterhub.utils import url_path_join
from oauthenticator.oauth2 import OAuthLogoutHandler
from tornado import web
from traitlets import Int, Unicode
from traitlets.config import LoggingConfigurable

from .. import metrics
from . import ADMIN, AUTH, EVENTS_SCOPE, JUPYTERHUB_SERVER_ACTION, REVIEW, SERVER, emit, register_schemas
from .sink import AuditFileHandler

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# hub API paths that are not someone acting for someone else (OAuth token exchange, a server's
# own activity and events: counted elsewhere)
_NOT_ADMIN = re.compile(r"/api/(oauth2/|users/[^/]+/activity$|jupyterhub-ds/users/[^/]+/events$)")
_USER_IN_PATH = re.compile(r"/api/users/([^/]+)")


class AuditTrail(LoggingConfigurable):
    """Where the hub writes audit events, and the bounds on events from users' servers."""

    path = Unicode(
        "",
        help="""The JSON-lines file every audit event is appended to (the admin
        YAML's audit.path). Empty: no audit file (events are still validated and counted).""",
    ).tag(config=True)

    server_event_max_bytes = Int(
        16 * 1024,
        help="""Largest body a user's server may post to
        /hub/api/jupyterhub-ds/users/:name/events (413 above).""",
    ).tag(config=True)

    server_events_per_minute = Int(
        30,
        help="""Events one user's servers may post per minute
        (429 above); submissions happen by hand, far below it.""",
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._recent = {}  # user -> deque of monotonic times of their accepted posts

    def allow(self, user, now=None):
        """Sliding one-minute window per user: True and counted, or False (over the bound)."""
        now = time.monotonic() if now is None else now
        recent = self._recent.setdefault(user, deque())
        while recent and now - recent[0] >= 60:
            recent.popleft()
        if len(recent) >= self.server_events_per_minute:
            return False
        recent.append(now)
        return True


def install(app):
    """Wire the audit trail and the metrics into the hub ``app``; -> the handlers to add."""
    trail = AuditTrail(parent=app)
    register_schemas(app.eventlog)
    if trail.path:
        app.eventlog.register_handler(AuditFileHandler(trail.path))
        app.log.info("jupyterhub-ds: audit events go to %s", trail.path)
    app.eventlog.add_listener(schema_id=JUPYTERHUB_SERVER_ACTION, listener=server_action)
    previous = app.tornado_settings.get("log_function")
    app.tornado_settings["log_function"] = lambda handler: log_request(handler, previous)
    metrics.declare_profiles(p["slug"] for p in app.config.ProfileSpawnerMixin.get("profiles", []))
    stats = metrics.ContainerStats(parent=app)
    stats.start()
    app.tornado_settings["jupyterhub_ds_container_stats"] = stats
    return [(ServerEventsHandler.route, ServerEventsHandler, {"trail": trail})]


def _eventlog_of(authenticator):
    return getattr(getattr(authenticator, "parent", None), "eventlog", None)


# ---- login, logout, groups, admin, revocation --------------------------------------------------


def membership_changes(user, before_groups, after_groups, before_admin, after_admin):
    """The audit events of a login or refresh that changed the hub groups or the admin right (pure)."""
    events = []
    added, removed = sorted(set(after_groups) - set(before_groups)), sorted(set(before_groups) - set(after_groups))
    if added or removed:
        events.append(
            {
                "action": "groups.changed",
                "user": user,
                "groups": sorted(after_groups),
                "added": added,
                "removed": removed,
            }
        )
    if after_admin and not before_admin:
        events.append({"action": "admin.granted", "user": user})
    if before_admin and not after_admin:
        events.append({"action": "admin.revoked", "user": user})
    return events


def _after(authenticator, auth_model, groups, admin):
    """The groups and admin right JupyterHub will give the user from ``auth_model``."""
    if authenticator.manage_groups and auth_model.get("groups") is not None:
        groups = auth_model["groups"]
    if auth_model.get("admin") is not None:
        admin = bool(auth_model["admin"])
    return sorted(groups), admin


def logged_in(authenticator, handler, auth_model):
    """After a successful login (``get_authenticated_user``): login, and what it changes."""
    if not auth_model:
        return
    name = auth_model["name"]
    user = handler.find_user(name)
    before_groups = sorted(g.name for g in user.groups) if user is not None else []
    before_admin = bool(user.admin) if user is not None else False
    groups, admin = _after(authenticator, auth_model, before_groups, before_admin)
    eventlog = handler.settings.get("eventlog")
    emit(eventlog, AUTH, {"action": "login", "user": name, "groups": groups, "admin": admin})
    for event in membership_changes(name, before_groups, groups, before_admin, admin):
        emit(eventlog, AUTH, event)


def refreshed(authenticator, user, auth_model):
    """After a refresh against GitLab that keeps the user: what it changes."""
    eventlog = _eventlog_of(authenticator)
    if eventlog is None:
        return
    before_groups = sorted(g.name for g in user.groups)
    groups, admin = _after(authenticator, auth_model, before_groups, bool(user.admin))
    for event in membership_changes(user.name, before_groups, groups, bool(user.admin), admin):
        emit(eventlog, AUTH, event)


def revoked(authenticator, user, why):
    emit(_eventlog_of(authenticator), AUTH, {"action": "access.revoked", "user": user.name, "reason": why})


class AuditLogoutHandler(OAuthLogoutHandler):
    """oauthenticator's logout, which also writes the logout to the audit trail."""

    async def handle_logout(self):
        user = self.current_user
        await super().handle_logout()
        if user is not None and getattr(user, "kind", "user") == "user":
            emit(self.eventlog, AUTH, {"action": "logout", "user": user.name})


# ---- spawns and stops ---------------------------------------------------------------------------


def _actor(spawner):
    """Who asked for the spawn, when it is not the user themselves (an admin, a service)."""
    handler = getattr(spawner, "handler", None)
    try:
        who = handler.current_user if handler is not None else None
    except Exception:  # no request (a restart), or a refused one
        return None
    name = getattr(who, "name", None)
    return None if name in (None, spawner.user.name) else name


def spawn_starting(spawner, resolved):
    """From the spawner's ``load_user_options`` (every start): what this spawn is, for its end."""
    pids = resolved.pids_limit if resolved.pids_limit is not None else getattr(spawner, "default_pids_limit", None)
    info = {
        "profile": resolved.slug,
        "image": resolved.image,
        "actor": _actor(spawner),
        "limits": {
            "cpu_limit": resolved.cpu_limit,
            "mem_limit": resolved.mem_limit,
            "pids_limit": pids,
            "gpus": resolved.gpus,
        },
    }
    metrics.TRACKER.starting((spawner.user.name, spawner.name or ""), info)


async def server_action(logger, schema_id, data):
    """JupyterHub's own event: a server answered after its start (the spawn succeeded)."""
    if data.get("action") != "start":
        return
    found = metrics.TRACKER.answered((data.get("username"), data.get("servername") or ""))
    if found is None:
        return
    info, seconds = found
    metrics.record_spawn(info["profile"], "success", seconds)
    emit(
        logger,
        SERVER,
        {
            "action": "server.spawn",
            "user": data["username"],
            "server": data.get("servername") or "",
            **info,
            "duration_seconds": round(seconds, 3),
        },
    )


def server_stopped(authenticator, user, spawner):
    """From ``Authenticator.post_spawn_stop`` (every stop, failed spawns too)."""
    key = (user.name, spawner.name or "")
    found = metrics.TRACKER.stopped(key)
    eventlog = _eventlog_of(authenticator)
    if found is None:  # started before the hub (re)started
        profile = (spawner.user_options or {}).get("profile")
        emit(eventlog, SERVER, {"action": "server.stop", "user": user.name, "server": key[1], "profile": profile})
        return
    outcome, info, seconds = found
    if outcome == "failure":
        metrics.record_spawn(info["profile"], "failure", seconds)
        emit(
            eventlog,
            SERVER,
            {
                "action": "server.spawn_failed",
                "user": user.name,
                "server": key[1],
                **info,
                "duration_seconds": round(seconds, 3),
            },
        )
    else:
        emit(
            eventlog,
            SERVER,
            {
                "action": "server.stop",
                "user": user.name,
                "server": key[1],
                "profile": info["profile"],
                "duration_seconds": round(seconds, 3),
            },
        )


# ---- admin actions through the REST API --------------------------------------------------------


def admin_request_event(method, path, status, actor, actor_kind, hub_prefix="/hub/"):
    """The audit event of one request, or None when it is not someone changing something for
    someone else through the hub's REST API (pure)."""
    api = url_path_join(hub_prefix, "api/")
    if method not in WRITE_METHODS or not path.startswith(api) or actor is None:
        return None
    rest = "/" + path[len(hub_prefix) :].lstrip("/")
    if _NOT_ADMIN.search(rest):
        return None
    match = _USER_IN_PATH.match(rest)
    target = match and match.group(1)
    if actor_kind == "user" and target == actor:
        return None  # their own server, tokens, ...: not an admin action (spawns are audited)
    event = {
        "action": "admin.request",
        "actor": actor,
        "actor_kind": actor_kind,
        "method": method,
        "path": path[:512],
        "status": int(status),
    }
    if target:
        event["user"] = target[:255]
    return event


def log_request(handler, previous=None):
    """The hub's request log function, plus the admin actions into the audit trail."""
    if previous is not None:
        previous(handler)
    try:
        who = handler.current_user
    except Exception:  # the request was refused before anyone was identified
        who = None
    kind = "service" if getattr(who, "kind", None) == "service" else "user"
    event = admin_request_event(
        handler.request.method,
        handler.request.path,
        handler.get_status(),
        getattr(who, "name", None),
        kind,
        handler.settings.get("hub_prefix", "/hub/"),
    )
    if event is not None:
        emit(handler.settings.get("eventlog"), ADMIN, event)


# ---- the events endpoint for users' servers ----------------------------------------------------


class ServerEventsHandler(APIHandler):
    route = r"/api/jupyterhub-ds/users/([^/]+)/events"

    def initialize(self, trail):
        self.trail = trail

    def refuse(self, status, reason, message):
        metrics.SERVER_EVENTS_REFUSED.labels(reason).inc()
        raise web.HTTPError(status, message)

    async def post(self, user_name):
        # the custom scope exists only once the hub has defined it, so it is checked per request
        try:
            checked = needs_scope(EVENTS_SCOPE)(type(self)._post)
        except ValueError:
            raise web.HTTPError(
                500,
                f"the scope {EVENTS_SCOPE} is not defined: add it to c.JupyterHub.custom_scopes "
                "(the admin YAML's config does)",
            ) from None
        return await checked(self, user_name)

    async def _post(self, user_name):
        user = self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404, f"no user {user_name!r}")
        body = self.request.body or b""
        if len(body) > self.trail.server_event_max_bytes:
            self.refuse(
                413,
                "too_large",
                f"an event of {len(body)} bytes is more than the {self.trail.server_event_max_bytes} an event may have",
            )
        if not self.trail.allow(user.name):  # every post counts, valid or not
            self.refuse(
                429,
                "rate_limited",
                f"more than {self.trail.server_events_per_minute} events a minute "
                f"from {user.name}'s servers; try again in a minute",
            )
        try:
            event = json.loads(body)
        except ValueError:
            self.refuse(400, "invalid", "the body is not JSON; send one event object")
        if not isinstance(event, dict):
            self.refuse(400, "invalid", "send one event object")
        if "user" in event:
            self.refuse(400, "invalid", "an event may not name its user: the hub sets it to the token's owner")
        event["user"] = user.name
        try:
            self.eventlog.schemas.validate_event(REVIEW, event)
        except Exception as e:  # jsonschema's ValidationError
            where = "/".join(str(p) for p in getattr(e, "absolute_path", ()))
            self.refuse(
                400,
                "invalid",
                f"the event does not match the review event schema "
                f"({getattr(e, 'message', e)}{' at ' + where if where else ''})",
            )
        emit(self.eventlog, REVIEW, event)
        metrics.record_review_event(event)
        self.set_status(204)
        self.finish()
