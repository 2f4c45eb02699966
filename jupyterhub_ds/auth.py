"""DSGitLabOAuthenticator: GitLab login with group rules, revocation and short-lived tokens.

Built on oauthenticator's GitLabOAuthenticator through its documented hooks (``token_to_user``,
``update_auth_model``, ``check_allowed``, ``build_auth_state_dict``, ``refresh_user``,
``get_handlers``, ``httpfetch``) and calling ``super()``. What it adds:

* **Group rules** (:mod:`jupyterhub_ds.gitlab_groups`): at every login and refresh the user's
  GitLab groups are read; the user's JupyterHub groups become exactly the configured rules
  that hold for them (``manage_groups``), which is what admin rights (oauthenticator's
  ``admin_groups``), profiles, workspace projects and promotion visibility are decided by.
  A group grants a privilege only to people placed in it or in a subgroup, never to people
  who inherit it from an ancestor group, unless the rule names a minimum role. The group
  lists are asked for while GitLab answers who the user is (they need only the token).
* **Revocation**: a refresh that finds the user no longer allowed, or GitLab refusing their
  tokens (blocked, deleted, revoked), answers 403 to every kind of request (browser, API
  token, their server's token) and stops their servers. Only a GitLab outage (5xx, timeout,
  connection error) keeps the current session until the next refresh.
* **Short-lived tokens for servers**: ``GET /hub/api/jupyterhub-ds/users/:name/gitlab-token``
  (:mod:`jupyterhub_ds.gitlab_token`) gives the user's server a GitLab access token valid
  for at least the asked time, refreshing it first when needed; the server never sees the
  refresh token or the rest of ``auth_state``.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import weakref
from urllib.parse import quote

from oauthenticator.gitlab import GitLabOAuthenticator
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Bool, Int, Set, Unicode, default, validate

from .audit import hub as audit_hub
from .gitlab_groups import (
    GUEST,
    GroupRule,
    GroupRuleError,
    Memberships,
    certainly_direct,
    granted_keys,
    levels_needed,
    lookups_for,
    may_log_in,
)

# Set while oauthenticator talks to GitLab on our behalf: did GitLab fail (rather than refuse)?
_outage = contextvars.ContextVar("jupyterhub_ds_gitlab_outage", default=None)
# The group lists of the login (or refresh) under way: (access token, task), asked for by
# token_to_user while GitLab answers who the user is, read by gitlab_memberships. A login runs
# in one request's task, and a coroutine it awaits shares that task's context.
_group_lists = contextvars.ContextVar("jupyterhub_ds_group_lists", default=None)
MAX_GROUP_PAGES = 50  # 50 pages of 100 groups: far beyond any real membership list


class _Outage:
    seen = False


def is_outage(error) -> bool:
    """A GitLab failure that says nothing about the user: 5xx, timeout, no connection."""
    if isinstance(error, HTTPClientError):
        return error.code >= 500  # tornado reports timeouts and connection errors as 599
    return isinstance(error, (OSError, asyncio.TimeoutError))


def _rules(keys, trait):
    try:
        return {GroupRule.parse(k).key for k in keys}
    except GroupRuleError as e:
        raise ValueError(f"DSGitLabOAuthenticator.{trait}: {e}") from None


class DSGitLabOAuthenticator(GitLabOAuthenticator):
    # oauthenticator's logout, writing the logout to the audit trail
    logout_handler = audit_hub.AuditLogoutHandler

    allowed_group_rules = Set(
        Unicode(),
        help="""Members of these GitLab groups may log in: people placed in the group or in
        one of its subgroups, and members inherited from a parent group. ``path:role``
        (e.g. ``data-science:developer``) requires at least that role. Unlike
        ``allowed_gitlab_groups`` (members/all of the group itself), members of a subgroup
        count.""",
    ).tag(config=True, allow_config=True)

    privilege_group_rules = Set(
        Unicode(),
        help="""GitLab group rules that grant something on this hub (profiles, workspace
        projects, promotion visibility; ``admin_groups`` are added). A user's JupyterHub
        groups are exactly the rules that hold for them: ``path`` for people placed in that
        group or a subgroup (never inherited from a parent group), ``path:role`` for anyone
        with at least that role there, inherited or not.""",
    ).tag(config=True)

    @validate("allowed_group_rules")
    def _valid_allowed_rules(self, proposal):
        return _rules(proposal.value, "allowed_group_rules")

    @validate("privilege_group_rules")
    def _valid_privilege_rules(self, proposal):
        return _rules(proposal.value, "privilege_group_rules")

    max_membership_lookups = Int(
        50,
        help="""Most ``GET /groups/:id/members/:user_id`` calls one login may make to tell
        direct memberships from inherited ones; a rule still undecided after that does not
        hold (logged).""",
    ).tag(config=True)

    stop_server_on_revoke = Bool(
        True,
        help="""When a refresh finds that the user is no longer allowed (removed from every
        allowed GitLab group, blocked or deleted in GitLab), stop their running servers as
        well as refusing them.""",
    ).tag(config=True)

    spawn_refresh_age = Int(
        60,
        help="""Seconds during which a spawn relies on the last check of the user against GitLab
        (their login, or a refresh) instead of checking again first; never more than
        ``auth_refresh_age``. A spawn right after logging in then does not wait for GitLab.
        Such a spawn does not restart JupyterHub's refresh clock, so access still ends at the
        first request ``auth_refresh_age`` after the last check. 0: every spawn checks
        GitLab first.""",
    ).tag(config=True)

    token_min_validity = Int(
        300,
        help="""Seconds a GitLab token handed to a user's server stays valid at least; a token
        closer to its expiry is refreshed first (servers may ask for up to 3600).""",
    ).tag(config=True)

    gitlab_max_requests = Int(
        64,
        help="""Most requests to GitLab the hub has under way at once (logins, refreshes, tokens
        for servers); more wait their turn. Tornado's shared HTTP client allows 10, behind
        which the GitLab calls of many logins at once queue.""",
    ).tag(config=True)

    @default("http_client")
    def _default_http_client(self):
        # a client of its own, so that the limit is ours; of the class JupyterHub configured
        return AsyncHTTPClient(force_instance=True, max_clients=self.gitlab_max_requests)

    token_scope = Unicode(
        "custom:jupyterhub-ds:gitlab-token",
        help="""Scope a hub token needs to get its user's GitLab access token from
        /hub/api/jupyterhub-ds/users/:name/gitlab-token (with the ``!user`` filter in
        servers' tokens).""",
    ).tag(config=True)

    @default("manage_groups")
    def _default_manage_groups(self):
        return True

    @default("enable_auth_state")
    def _default_enable_auth_state(self):
        return True

    @default("auth_state_groups_key")
    def _default_groups_key(self):
        return "hub_groups"

    @default("refresh_pre_spawn")
    def _default_refresh_pre_spawn(self):
        # a spawn re-checks GitLab, whatever auth_refresh_age says, unless the last check is
        # younger than spawn_refresh_age
        return True

    @default("auth_refresh_age")
    def _default_auth_refresh_age(self):
        return 300

    def granting_rules(self) -> set[GroupRule]:
        return {GroupRule.parse(k) for k in self.privilege_group_rules | set(self.admin_groups)}

    # ---- GitLab calls --------------------------------------------------------------------

    def _api_headers(self, access_token):
        return {"Accept": "application/json", "User-Agent": "JupyterHub", "Authorization": f"Bearer {access_token}"}

    async def fetch_gitlab_groups(self, access_token, min_access_level=GUEST) -> dict[str, int]:
        """``{full_path: id}`` of ``GET /groups?min_access_level=N``, following pagination (bounded)."""
        groups = {}
        page = "1"
        for _ in range(MAX_GROUP_PAGES):
            url = f"{self.gitlab_api}/groups?min_access_level={min_access_level}&per_page=100&page={page}"
            resp = await self.httpfetch(
                url,
                "Fetching GitLab groups",
                parse_json=False,
                method="GET",
                headers=self._api_headers(access_token),
                validate_cert=self.validate_server_cert,
            )
            groups.update({g["full_path"]: g["id"] for g in web.escape.json_decode(resp.body)})
            page = resp.headers.get("X-Next-Page")
            if not page:
                break
        return groups

    async def is_direct_member(self, access_token, group_id, user_id) -> bool:
        """``GET /groups/:id/members/:user_id`` answers 200 for direct members only."""
        resp = await self.httpfetch(
            f"{self.gitlab_api}/groups/{quote(str(group_id), safe='')}/members/{int(user_id)}",
            "Checking GitLab group membership",
            parse_json=False,
            raise_error=False,
            method="GET",
            headers=self._api_headers(access_token),
            validate_cert=self.validate_server_cert,
        )
        if resp.code == 200:
            return True
        if resp.code == 404:
            return False
        raise HTTPClientError(resp.code, f"GitLab answered {resp.code} to a group membership lookup", resp)

    async def fetch_group_lists(self, access_token) -> dict[int, dict[str, int]]:
        """The user's groups at each ``min_access_level`` the rules need, asked for at once."""
        rules = self.granting_rules() | {GroupRule.parse(k) for k in self.allowed_group_rules}
        levels = sorted(levels_needed(rules))
        found = await asyncio.gather(*(self.fetch_gitlab_groups(access_token, level) for level in levels))
        return dict(zip(levels, found, strict=True))

    async def token_to_user(self, token_info):
        # The group lists need only the token: ask GitLab for them while it answers who the user
        # is, so a login (and a refresh) waits for one round trip to GitLab less.
        access_token = token_info.get("access_token") if isinstance(token_info, dict) else None
        if not access_token:
            return await super().token_to_user(token_info)
        lists = asyncio.ensure_future(self.fetch_group_lists(access_token))
        # read its outcome even when nobody awaits it (the login failed in between)
        lists.add_done_callback(lambda task: task.cancelled() or task.exception())
        _group_lists.set((access_token, lists))
        try:
            return await super().token_to_user(token_info)
        except BaseException:
            lists.cancel()
            _group_lists.set(None)
            raise

    async def gitlab_memberships(self, access_token, user_id) -> Memberships:
        pending = _group_lists.get()
        _group_lists.set(None)
        if pending is not None and pending[0] == access_token:
            lists = await pending[1]
        else:
            if pending is not None:
                pending[1].cancel()
            lists = await self.fetch_group_lists(access_token)
        by_level, ids = {}, {}
        for level, found in lists.items():
            by_level[level] = frozenset(found)
            ids.update(found)
        m = Memberships(by_level, frozenset(certainly_direct(by_level[GUEST])))
        budget, checked = self.max_membership_lookups, set()
        for rule in sorted(self.granting_rules(), key=lambda r: r.key):
            for group in lookups_for(rule, m):
                if group in checked:
                    continue
                if budget <= 0:
                    self.log.warning(
                        "Group rule %s undecided after %d membership lookups; not granted",
                        rule.key,
                        self.max_membership_lookups,
                    )
                    break
                budget -= 1
                checked.add(group)
                if await self.is_direct_member(access_token, ids[group], user_id):
                    m = Memberships(by_level, m.direct | {group})
                    break
        return m

    # ---- login ---------------------------------------------------------------------------

    def build_auth_state_dict(self, token_info, user_info):
        state = super().build_auth_state_dict(token_info, user_info)
        expires_in = token_info.get("expires_in")
        # the hub's own clock: GitLab's created_at may disagree with it
        state["token_expires_at"] = time.time() + int(expires_in) if expires_in else None
        return state

    async def update_auth_model(self, auth_model):
        auth_model = await super().update_auth_model(auth_model)
        state = auth_model["auth_state"]
        m = await self.gitlab_memberships(state["access_token"], state[self.user_auth_state_key]["id"])
        state["gitlab_memberships"] = {
            "by_min_access_level": {str(k): sorted(v) for k, v in m.by_level.items()},
            "direct": sorted(m.direct),
        }
        # the JupyterHub groups (manage_groups): the granting rules that hold for this user;
        # oauthenticator's admin_groups then decides admin rights from them
        state["hub_groups"] = sorted(granted_keys(self.granting_rules(), m))
        # when GitLab last confirmed all this (the hub's clock, as token_expires_at)
        state["checked_at"] = time.time()
        return auth_model

    async def get_authenticated_user(self, handler, data):
        auth_model = await super().get_authenticated_user(handler, data)
        audit_hub.logged_in(self, handler, auth_model)  # the login, and the groups/admin it changes
        return auth_model

    async def check_allowed(self, username, auth_model):
        if await super().check_allowed(username, auth_model):
            return True
        saved = (auth_model.get("auth_state") or {}).get("gitlab_memberships") or {}
        m = Memberships({int(k): frozenset(v) for k, v in saved.get("by_min_access_level", {}).items()})
        return any(may_log_in(GroupRule.parse(k), m) for k in self.allowed_group_rules)

    # ---- refresh and revocation ----------------------------------------------------------

    def _lock(self, name) -> asyncio.Lock:
        """One token refresh at a time per user: GitLab revokes a refresh token once used, so two
        refreshes at once would make the second look like a revocation. A lock lives while
        someone holds or waits for it (weak values), so the table does not grow with users."""
        locks = self.__dict__.setdefault("_refresh_locks", weakref.WeakValueDictionary())
        lock = locks.get(name)
        if lock is None:
            lock = locks[name] = asyncio.Lock()
        return lock

    async def _checked_recently(self, user) -> bool:
        """Was the user checked against GitLab less than spawn_refresh_age ago (and no more
        than auth_refresh_age)? Then that check stands for this refresh (a spawn's)."""
        window = min(self.spawn_refresh_age, self.auth_refresh_age)
        if window <= 0:
            return False
        checked_at = (await user.get_auth_state() or {}).get("checked_at")
        if not isinstance(checked_at, (int, float)) or not 0 <= time.time() - checked_at < window:
            return False
        # JupyterHub restarts its refresh clock when a refresh succeeds, right after this returns;
        # put it back, so that the next refresh is still due auth_refresh_age after the check
        asyncio.get_running_loop().call_soon(setattr, user, "_auth_refreshed", getattr(user, "_auth_refreshed", None))
        return True

    async def httpfetch(self, url, label="fetching", parse_json=True, raise_error=True, **kwargs):
        try:
            return await super().httpfetch(url, label, parse_json, raise_error, **kwargs)
        except Exception as e:
            marker = _outage.get()
            if marker is not None and is_outage(e):
                marker.seen = True
            raise

    async def refresh_user(self, user, handler=None, **kwargs):
        async with self._lock(user.name):
            if await self._checked_recently(user):
                return True
            marker = _Outage()
            reset = _outage.set(marker)
            try:
                refreshed = await super().refresh_user(user, handler, **kwargs)
            except Exception as e:
                if not (marker.seen or is_outage(e)):
                    raise
                refreshed = None
            finally:
                _outage.reset(reset)
            if refreshed is None or (refreshed is False and marker.seen):
                # GitLab unreachable or failing: keep the current session rather than lock
                # people out during an outage; the next refresh checks again.
                self.log.warning("Could not refresh %s against GitLab (outage); keeping current auth", user.name)
                return True
            if refreshed is False:
                if not await user.get_auth_state():
                    return False  # never logged in through GitLab: a fresh login is needed
                await self.revoke(user, handler, "GitLab refused their tokens (blocked, deleted or revoked)")
            if isinstance(refreshed, dict):
                if not await self.check_allowed(refreshed["name"], refreshed):
                    await self.revoke(user, handler, "GitLab membership of the allowed groups or projects has ended")
                audit_hub.refreshed(self, user, refreshed)  # groups or admin right this refresh changes
                # saved before another refresh may read it (JupyterHub saves it again after)
                await user.save_auth_state(refreshed["auth_state"])
            return refreshed

    async def revoke(self, user, handler, why):
        """Refuse ``user`` everywhere (403) and stop their servers."""
        self.log.warning("User %s may no longer use the hub: %s", user.name, why)
        audit_hub.revoked(self, user, why)
        if self.stop_server_on_revoke:
            await self._stop_all_servers(user, handler)
        raise web.HTTPError(403, f"{user.name} may no longer use this hub: {why}. Ask an administrator.")

    async def _stop_all_servers(self, user, handler):
        for name, spawner in list(user.spawners.items()):
            if not (spawner.active or spawner.ready):
                continue
            self.log.warning("Stopping server %r of %s: access revoked", name, user.name)
            if handler is not None:
                await handler.stop_single_user(user, name)
            else:
                await user.stop(name)

    # ---- short-lived tokens for the user's server ------------------------------------------

    def get_handlers(self, app):
        from .gitlab_token import GitLabTokenHandler

        # + the audit trail, the metrics and the events endpoint for users' servers
        return super().get_handlers(app) + [(GitLabTokenHandler.route, GitLabTokenHandler)] + audit_hub.install(app)

    def post_spawn_stop(self, user, spawner):
        audit_hub.server_stopped(self, user, spawner)  # a stop, or the end of a spawn that failed
        return super().post_spawn_stop(user, spawner)

    async def fresh_access_token(self, user, handler, min_validity: int) -> dict:
        """The user's auth_state with an access token valid for at least ``min_validity``
        seconds, refreshed (and saved) first when it is closer to its expiry."""
        async with self._lock(user.name):
            state = await user.get_auth_state()
            if not state or not state.get("access_token"):
                raise web.HTTPError(403, f"{user.name} has no GitLab login on this hub; log in to the hub again")
            expires_at = state.get("token_expires_at")
            if expires_at is None or expires_at - time.time() >= min_validity:
                return state
            if not state.get("refresh_token"):
                raise web.HTTPError(403, "the GitLab token is about to expire and cannot be refreshed; log in again")
            marker = _Outage()
            reset = _outage.set(marker)
            try:
                info = await self.get_token_info(
                    handler, self.build_refresh_token_request_params(state["refresh_token"])
                )
            except Exception as e:
                if marker.seen or is_outage(e):
                    raise web.HTTPError(
                        503, "GitLab is not reachable to refresh the token; try again in a minute"
                    ) from e
                await self.revoke(user, handler, "GitLab refused their tokens (blocked, deleted or revoked)")
            finally:
                _outage.reset(reset)
            info.setdefault("refresh_token", state["refresh_token"])
            fresh = {**state, **self.build_auth_state_dict(info, state[self.user_auth_state_key])}
            await user.save_auth_state(fresh)
            self.log.info("Refreshed the GitLab token of %s for their server", user.name)
            return fresh
