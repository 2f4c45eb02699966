"""/version, /metadata, /user, /users and personal access tokens."""

from __future__ import annotations

from .base import ApiError, ApiHandler, forbidden, not_found, user_basic
from .model import User
from .pagination import paginate
from .tokens import KNOWN_SCOPES

USER_READ = ("api", "read_api", "read_user")
VERSION = {
    "version": "17.5.0-ee",
    "revision": "5e8c4f1a2b3",
    "kas": {"enabled": False, "externalUrl": None, "externalK8sProxyUrl": None, "version": None},
    "enterprise": True,
}


def user_full(user: User, base_url: str) -> dict:
    data = user_basic(user, base_url)
    data.update(
        {
            "created_at": user.created_at,
            "bio": "",
            "location": "",
            "public_email": user.email,
            "skype": "",
            "linkedin": "",
            "twitter": "",
            "website_url": "",
            "organization": "",
            "job_title": "",
            "bot": False,
            "email": user.email,
            "is_admin": user.is_admin,
            "can_create_group": True,
            "can_create_project": True,
            "two_factor_enabled": False,
            "external": False,
            "private_profile": False,
            "identities": [],
            "theme_id": 1,
            "color_scheme_id": 1,
            "projects_limit": 100000,
            "confirmed_at": user.created_at,
            "last_sign_in_at": None,
            "current_sign_in_at": None,
            "namespace_id": user.id,
        }
    )
    return data


class VersionHandler(ApiHandler):
    read_scopes = USER_READ

    def get(self):
        self.authenticate()
        self.send_json(VERSION)


class CurrentUserHandler(ApiHandler):
    read_scopes = USER_READ

    def get(self):
        user = self.authenticate()
        self.send_json(user_full(user, self.ctx.base_url))


class UsersHandler(ApiHandler):
    read_scopes = USER_READ

    def get(self):
        me = self.authenticate()
        users = sorted(self.store.users.values(), key=lambda u: u.id)
        username = self.param("username")
        if username:
            users = [u for u in users if u.username.lower() == username.lower()]
        search = self.param("search")
        if search:
            s = search.lower()
            users = [u for u in users if s in u.username.lower() or s in u.name.lower() or s in u.email.lower()]
        render = user_full if me.is_admin else user_basic
        self.send_json([render(u, self.ctx.base_url) for u in paginate(self, users)])


class UserHandler(ApiHandler):
    read_scopes = USER_READ

    def get(self, ref):
        me = self.authenticate()
        user = self.store.users.get(int(ref)) if ref.isdigit() else self.store.user_by_name(ref)
        if user is None:
            raise not_found("User")
        render = user_full if me.is_admin or me.id == user.id else user_basic
        self.send_json(render(user, self.ctx.base_url))


def _admin_target(handler: ApiHandler, ref: str) -> User:
    me = handler.authenticate()
    if not me.is_admin:
        raise forbidden()
    user = handler.store.users.get(int(ref)) if ref.isdigit() else None
    if user is None:
        raise not_found("User")
    return user


class UserStateHandler(ApiHandler):
    """POST /users/:id/block and /users/:id/unblock (admin): 201 true, as GitLab answers."""

    def post(self, ref, action):
        user = _admin_target(self, ref)
        user.state = "blocked" if action == "block" else "active"
        self.send_json(True, 201)


class DeleteUserHandler(UserHandler):
    """DELETE /users/:id (admin): the user and every token of theirs are gone (204)."""

    def delete(self, ref):
        user = _admin_target(self, ref)
        for value, token in list(self.ctx.tokens.tokens.items()):
            if token.user_id == user.id:
                self.ctx.tokens.revoke(value)
                self.ctx.tokens.tokens.pop(value, None)
        for group in self.store.groups.values():
            group.members.pop(user.id, None)
        for project in self.store.projects.values():
            project.members.pop(user.id, None)
        del self.store.users[user.id]
        self.set_status(204)
        self.finish()


class PersonalAccessTokensHandler(ApiHandler):
    """POST /users/:id/personal_access_tokens (admin): how tests get a token for any user."""

    def post(self, ref):
        me = self.authenticate()
        if not me.is_admin:
            raise forbidden()
        user = self.store.users.get(int(ref)) if ref.isdigit() else None
        if user is None:
            raise not_found("User")
        name = self.param("name", required=True)
        scopes = self.list_param("scopes")
        if not scopes:
            raise ApiError(400, {"error": "scopes is missing"})
        unknown = [s for s in scopes if s not in KNOWN_SCOPES]
        if unknown:
            raise ApiError(400, {"error": "scopes does not have a valid value"})
        token = self.ctx.tokens.issue_pat(user.id, name, scopes)
        self.send_json(pat_json(token, user.id, reveal=True), 201)


def pat_json(token, user_id: int, reveal: bool = False) -> dict:
    data = {
        "id": token.id,
        "name": token.name,
        "revoked": token.revoked,
        "created_at": None,
        "scopes": token.scopes,
        "user_id": user_id,
        "active": not token.revoked and not token.expired(),
        "expires_at": None,
    }
    if reveal:
        data["token"] = token.value
    return data


def routes() -> list:
    p = r"/api/v4"
    return [
        (p + r"/version", VersionHandler),
        (p + r"/metadata", VersionHandler),
        (p + r"/user", CurrentUserHandler),
        (p + r"/users", UsersHandler),
        (p + r"/users/([^/]+)", DeleteUserHandler),
        (p + r"/users/([0-9]+)/(block|unblock)", UserStateHandler),
        (p + r"/users/([^/]+)/personal_access_tokens", PersonalAccessTokensHandler),
    ]
