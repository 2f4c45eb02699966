"""The request handler base every API module shares: parameters, auth, JSON and GitLab errors."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from dataclasses import dataclass, field

from tornado import web

from .model import Project, Store, User
from .tokens import READ_SCOPES, AuthError, Token, TokenStore, require_scope, token_from_request, unauthorized

log = logging.getLogger("fake_gitlab")


@dataclass
class Context:
    """What every handler needs; one per running server (``settings["ctx"]``)."""

    store: Store
    tokens: TokenStore
    repos: object  # repos.Repos (typed loosely to keep this module free of git)
    base_url: str
    grants: dict = field(default_factory=dict)  # oauth.py: authorization codes
    api_latency: float = 0.0  # seconds every API and OAuth token answer waits first (--api-latency)


async def network_latency(handler: web.RequestHandler) -> None:
    """Wait ``--api-latency`` before answering, as a GitLab across a network does; the wait
    blocks no other request."""
    latency = handler.settings["ctx"].api_latency
    if latency > 0:
        await asyncio.sleep(latency)


class ApiError(Exception):
    """A GitLab API error: HTTP status plus the JSON body GitLab sends."""

    def __init__(self, status: int, body):
        super().__init__(body)
        self.status, self.body = status, body


def not_found(what: str = "") -> ApiError:
    return ApiError(404, {"message": f"404 {what + ' ' if what else ''}Not Found"})


def forbidden() -> ApiError:
    return ApiError(403, {"message": "403 Forbidden"})


def bad_request(text: str) -> ApiError:
    return ApiError(400, {"message": f"400 Bad request - {text}"})


def missing(name: str) -> ApiError:
    return ApiError(400, {"error": f"{name} is missing"})


def unquote_ref(ref: str) -> str:
    """A path segment decoded once more if it arrived double-encoded (oauthenticator sends a%252Fb)."""
    return urllib.parse.unquote(ref) if "%" in ref else ref


class ApiHandler(web.RequestHandler):
    """Base of the /api/v4 handlers. Tornado matches routes on the raw path, so ``%2F`` inside an
    id or branch name never splits a segment; each handler receives the decoded segment."""

    write_scopes: tuple[str, ...] = ("api",)
    read_scopes: tuple[str, ...] = READ_SCOPES

    @property
    def ctx(self) -> Context:
        return self.settings["ctx"]

    @property
    def store(self) -> Store:
        return self.ctx.store

    def check_xsrf_cookie(self):  # API clients authenticate with tokens, not cookies
        return None

    def set_default_headers(self):
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "max-age=0, private, must-revalidate")

    # -- parameters ------------------------------------------------------------------------
    async def prepare(self):
        await network_latency(self)
        params: dict = {}
        for source in (self.request.query_arguments, self.request.body_arguments):
            for key, values in source.items():
                decoded = [v.decode("utf-8", "replace") for v in values]
                if key.endswith("[]"):
                    params.setdefault(key[:-2], []).extend(decoded)
                else:
                    params[key] = decoded[-1]
        ctype = self.request.headers.get("Content-Type", "")
        if self.request.body and ctype.startswith("application/json"):
            try:
                body = json.loads(self.request.body)
            except ValueError:
                raise ApiError(400, {"error": "400 Bad request - body is not valid JSON"}) from None
            if isinstance(body, dict):
                params.update(body)
        self.params = params

    def param(self, name: str, default=None, required: bool = False):
        value = self.params.get(name)
        if value in (None, "") or value == []:
            if required:
                raise missing(name)
            return default
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes", "on")

    def int_param(self, name: str, default=None, required: bool = False):
        value = self.param(name, default, required)
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, {"error": f"{name} is invalid"}) from None

    def list_param(self, name: str) -> list[str] | None:
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, list):
            return [str(v) for v in value]
        return [v for v in str(value).split(",") if v]

    # -- authentication --------------------------------------------------------------------
    def authenticate(self, scopes=None) -> User:
        """The user behind the request's token, enforcing ``scopes`` (default: by HTTP method)."""
        found = token_from_request(self.request.headers, self.request.query_arguments)
        if found is None:
            raise unauthorized()
        value, kinds = found
        token: Token = self.ctx.tokens.check(value, kinds)
        if scopes is None:
            scopes = self.read_scopes if self.request.method in ("GET", "HEAD") else self.write_scopes
        require_scope(token, scopes)
        user = self.store.users.get(token.user_id)
        if user is None:
            raise unauthorized()
        if user.state != "active":  # GitLab: api_access_denied_message (UserAccessDeniedReason)
            raise ApiError(403, {"message": f"403 Forbidden - Your account has been {user.state}."})
        self.token = token
        return user

    # -- lookups with GitLab's 404s --------------------------------------------------------
    def project(self, ref: str, user: User) -> Project:
        project = self.store.project_by_ref(unquote_ref(ref))
        if project is None or not self.store.can_see_project(project, user):
            raise not_found("Project")
        return project

    def require_access(self, project: Project, user: User, level: int) -> None:
        if self.store.project_access(project, user) < level:
            raise forbidden()

    # -- output ----------------------------------------------------------------------------
    def send_json(self, obj, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(obj))

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        if isinstance(exc, AuthError):
            for key, value in exc.headers.items():
                self.set_header(key, value)
            self.set_status(exc.status)
            self.finish(json.dumps(exc.body))
        elif isinstance(exc, ApiError):
            self.set_status(exc.status)
            self.finish(json.dumps(exc.body))
        elif status_code == 405:
            self.finish(json.dumps({"message": "405 Method Not Allowed"}))
        elif status_code == 404:
            self.finish(json.dumps({"error": "404 Not Found"}))
        else:
            self.finish(json.dumps({"message": f"{status_code} {self._reason}"}))

    def _handle_request_exception(self, e):
        if isinstance(e, (AuthError, ApiError)):
            # Expected client errors: answer without a traceback in the log.
            if not self._finished:
                self.send_error(e.status, exc_info=(type(e), e, None))
            return
        super()._handle_request_exception(e)


class NotFoundApi(ApiHandler):
    """Unknown /api/v4 routes answer like Grape: 404 {"error": "404 Not Found"}."""

    def prepare(self):
        raise ApiError(404, {"error": "404 Not Found"})


def user_basic(user: User, base_url: str) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": user.state,
        "locked": False,
        "avatar_url": None,
        "web_url": f"{base_url}/{user.username}",
    }
