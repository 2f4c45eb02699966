"""``GET /hub/api/jupyterhub-ds/users/:name/gitlab-token``: a user's GitLab access token, alone.

Served by the hub itself (registered by ``DSGitLabOAuthenticator.get_handlers``), so the
user's server needs no ``admin:auth_state``: its token carries only the custom scope
``custom:jupyterhub-ds:gitlab-token!user`` and gets back the short-lived access token and
the commit identity, never the refresh token or the rest of ``auth_state``. A token closer
to its expiry than asked (``?min_validity=`` seconds, default and floor
``token_min_validity``, at most 3600) is refreshed first, so a push never starts with a
token about to expire.

Answer (``Cache-Control: no-store``)::

    {"access_token": "...", "expires_at": 1767225600.0 | null, "username": "alice",
     "name": "Alice", "email": "alice@example.com"}
"""

from __future__ import annotations

import json
import time

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import needs_scope
from tornado import web

MAX_VALIDITY = 3600


def identity(gitlab_user: dict, hub_name: str) -> dict:
    """The commit identity of a GitLab ``/user`` answer (no-reply address when none is public)."""
    username = gitlab_user.get("username") or hub_name
    return {
        "username": username,
        "name": gitlab_user.get("name") or username,
        "email": gitlab_user.get("commit_email") or gitlab_user.get("email") or gitlab_user.get("public_email") or "",
    }


class GitLabTokenHandler(APIHandler):
    route = r"/api/jupyterhub-ds/users/([^/]+)/gitlab-token"

    async def get(self, user_name):
        # the custom scope exists only once the hub has defined it, so it is checked per request
        try:
            checked = needs_scope(self.authenticator.token_scope)(type(self)._answer)
        except ValueError:
            raise web.HTTPError(
                500,
                f"the scope {self.authenticator.token_scope} is not defined: add it to "
                "c.JupyterHub.custom_scopes (the admin YAML's config does)",
            ) from None
        return await checked(self, user_name)

    async def _answer(self, user_name):
        user = self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404, f"no user {user_name!r}")
        floor = self.authenticator.token_min_validity
        raw = self.get_argument("min_validity", str(floor))
        if not raw.isdigit() or int(raw) > MAX_VALIDITY:
            raise web.HTTPError(400, f"min_validity={raw!r}: give whole seconds up to {MAX_VALIDITY}")
        state = await self.authenticator.fresh_access_token(user, self, max(int(raw), floor))
        gitlab_user = state.get(self.authenticator.user_auth_state_key) or {}
        self.set_header("Cache-Control", "no-store")
        self.finish(
            json.dumps(
                {
                    "access_token": state["access_token"],
                    "expires_at": state.get("token_expires_at"),
                    "expires_in": None
                    if not state.get("token_expires_at")
                    else int(state["token_expires_at"] - time.time()),
                    **identity(gitlab_user, user.name),
                }
            )
        )
