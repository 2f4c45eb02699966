"""DSGitLabOAuthenticator: GitLab login with group sync, group-based admin and revocation.

Built on oauthenticator's GitLabOAuthenticator through its documented hooks only
(``update_auth_model``, ``get_user_groups`` via ``auth_state_groups_key``, ``refresh_user``),
see CONVENTIONS.md. What it adds:

* the user's GitLab groups (full paths, e.g. ``data-science/analysts``) are read at every
  login and refresh and synced into JupyterHub groups (``manage_groups``), which is what the
  profile spawner uses to decide which profiles a user may start;
* admin rights for members of ``admin_gitlab_groups`` (and their subgroups);
* at every refresh (``auth_refresh_age``, and before every spawn) the allow-list is checked
  again, so a user removed from an allowed GitLab group is refused (403) at their next request
  without logging out — browser, API token and their server's token alike — and their running
  servers are stopped when ``stop_server_on_revoke`` is set.
"""

import json

from oauthenticator.gitlab import GitLabOAuthenticator
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Bool, Int, Set, Unicode, default

# GitLab access levels (docs.gitlab.com/api/members): Guest 10 .. Owner 50.
GUEST = 10


def in_any_group(groups, wanted):
    """True if the user is in one of ``wanted``. ``groups`` comes from GitLab's group list,
    which already includes the subgroups inherited from a parent group's membership."""
    return bool(set(groups) & set(wanted))


class DSGitLabOAuthenticator(GitLabOAuthenticator):
    admin_gitlab_groups = Set(
        Unicode(),
        help="""Members of these GitLab groups (full paths, e.g. ``platform/admins``) are
        JupyterHub admins; GitLab's inherited membership counts (members of ``platform`` are
        members of ``platform/admins``). Users listed in ``admin_users`` stay admins regardless.""",
    ).tag(config=True)

    stop_server_on_revoke = Bool(
        True,
        help="""When a refresh finds that the user is no longer allowed (e.g. removed from
        every allowed GitLab group), stop their running servers as well as refusing them.""",
    ).tag(config=True)

    group_min_access_level = Int(
        GUEST,
        help="Minimum GitLab access level in a group for it to count as the user's group.",
    ).tag(config=True)

    @default("manage_groups")
    def _default_manage_groups(self):
        return True

    @default("enable_auth_state")
    def _default_enable_auth_state(self):
        return True

    @default("auth_state_groups_key")
    def _default_groups_key(self):
        return "gitlab_groups"

    @default("refresh_pre_spawn")
    def _default_refresh_pre_spawn(self):
        # a spawn always re-checks GitLab, whatever auth_refresh_age says
        return True

    @default("auth_refresh_age")
    def _default_auth_refresh_age(self):
        return 300

    async def fetch_gitlab_groups(self, access_token):
        """Full paths of the groups the token's user belongs to, following GitLab pagination."""
        groups = []
        url = f"{self.gitlab_api}/groups?min_access_level={self.group_min_access_level}&per_page=100"
        # bounded: 50 pages of 100 groups is far beyond any real membership list
        for _ in range(50):
            resp = await self.httpfetch(
                url,
                parse_json=False,
                method="GET",
                headers={
                    "Accept": "application/json",
                    "User-Agent": "JupyterHub",
                    "Authorization": f"Bearer {access_token}",
                },
                validate_cert=self.validate_server_cert,
            )
            groups.extend(g["full_path"] for g in json.loads(resp.body))
            next_page = resp.headers.get("X-Next-Page")
            if not next_page:
                break
            url = f"{self.gitlab_api}/groups?min_access_level={self.group_min_access_level}&per_page=100&page={next_page}"
        return sorted(set(groups))

    async def update_auth_model(self, auth_model):
        auth_model = await super().update_auth_model(auth_model)
        auth_state = auth_model["auth_state"]
        token = auth_state["token_response"]["access_token"]
        groups = await self.fetch_gitlab_groups(token)
        auth_state["gitlab_groups"] = groups
        if self.admin_gitlab_groups and not auth_model.get("admin"):
            # None/False from admin_users: group membership decides (and revokes) admin rights
            auth_model["admin"] = in_any_group(groups, self.admin_gitlab_groups)
        return auth_model

    async def refresh_user(self, user, handler=None, **kwargs):
        try:
            refreshed = await super().refresh_user(user, handler, **kwargs)
        except HTTPClientError as e:
            # GitLab unreachable or 5xx: keep the current session rather than lock people out
            # during a GitLab outage; the next refresh checks again.
            self.log.warning("Could not refresh %s against GitLab (%s); keeping current auth", user.name, e)
            return True
        if not isinstance(refreshed, dict):
            return refreshed
        if await self.check_allowed(refreshed["name"], refreshed):
            return refreshed
        self.log.warning("User %s is no longer allowed by GitLab; refusing until they are", user.name)
        if self.stop_server_on_revoke:
            await self._stop_all_servers(user, handler)
        # Returning False would only force a new login for browser requests and keep stale
        # auth for API tokens (the server's token included); refuse every kind of request.
        raise web.HTTPError(
            403,
            f"{user.name} may no longer use this hub: GitLab membership of the allowed groups or "
            "projects has ended. Ask an administrator to add you back.",
        )

    async def _stop_all_servers(self, user, handler):
        for name, spawner in list(user.spawners.items()):
            if not (spawner.active or spawner.ready):
                continue
            self.log.warning("Stopping server %r of %s: access revoked", name, user.name)
            if handler is not None:
                await handler.stop_single_user(user, name)
            else:
                await user.stop(name)
