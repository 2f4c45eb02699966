"""OAuth2 provider (Doorkeeper behaviour): authorize + consent, token, token/info, revoke, userinfo.

Authorization code with PKCE (S256 or plain), exact redirect_uri match, ``state`` passed through,
refresh revoking both old tokens, RFC 6749 error bodies.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass

from tornado import web

from .base import network_latency
from .model import Application
from .session import WebHandler
from .tokens import TokenStore, basic_credentials

CODE_LIFETIME = 600
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)
DENIED = "The resource owner or authorization server denied the request."


@dataclass
class Grant:
    code: str
    app_uid: str
    user_id: int
    redirect_uri: str
    scopes: list[str]
    challenge: str | None
    method: str | None
    created: float
    used: bool = False


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def with_query(uri: str, params: dict) -> str:
    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qsl(parts.query) + [(k, v) for k, v in params.items() if v is not None]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


class AuthorizeHandler(WebHandler):
    """GET shows consent (after sign-in); POST approves; POST with ``_method=delete`` denies."""

    def _request(self):
        """(app, redirect_uri, scopes) or None after answering with the right error."""
        store = self.ctx.store
        app = store.applications.get(self.get_argument("client_id", ""))
        if app is None:
            self.page("An error has occurred", f"<p>{html.escape(INVALID_CLIENT)}</p>", status=401)
            return None
        redirect_uri = self.get_argument("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:
            self.page("An error has occurred", "<p>The redirect URI included is not valid.</p>", status=400)
            return None
        state = self.get_argument("state", None)
        if self.get_argument("response_type", "") != "code":
            self.redirect(
                with_query(
                    redirect_uri,
                    {
                        "error": "unsupported_response_type",
                        "state": state,
                        "error_description": "The authorization server does not support this response type.",
                    },
                )
            )
            return None
        scopes = self.get_argument("scope", "").replace("+", " ").split() or list(app.scopes)
        if not set(scopes) <= set(app.scopes):
            self.redirect(
                with_query(
                    redirect_uri,
                    {
                        "error": "invalid_scope",
                        "state": state,
                        "error_description": "The requested scope is invalid, unknown, or malformed.",
                    },
                )
            )
            return None
        method = self.get_argument("code_challenge_method", None)
        if self.get_argument("code_challenge", None) and method not in (None, "S256", "plain"):
            self.redirect(
                with_query(
                    redirect_uri,
                    {
                        "error": "invalid_request",
                        "state": state,
                        "error_description": "The code challenge method must be plain or S256.",
                    },
                )
            )
            return None
        return app, redirect_uri, scopes

    def get(self):
        checked = self._request()
        if checked is None:
            return
        app, redirect_uri, scopes = checked
        user = self.require_login()
        if user is None:
            return
        if app.trusted:
            return self._approve(app, redirect_uri, scopes, user.id)
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(self.get_argument(name, ""))}">'
            for name in (
                "client_id",
                "redirect_uri",
                "state",
                "response_type",
                "code_challenge",
                "code_challenge_method",
                "nonce",
            )
        )
        hidden += f'<input type="hidden" name="scope" value="{html.escape(" ".join(scopes))}">'
        scope_list = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes)
        self.page(
            f"Authorize {app.name} to use your account?",
            f"""
<p>An application called <strong>{html.escape(app.name)}</strong> is requesting access to your GitLab
account <strong>{html.escape(user.username)}</strong>. This application will be able to:</p><ul>{scope_list}</ul>
<p>It will redirect to <code>{html.escape(redirect_uri)}</code>.</p>
<form method="post" action="/oauth/authorize" style="display:inline">{self.xsrf_form_html()}{hidden}
<button type="submit" data-testid="authorization-button">Authorize</button></form>
<form method="post" action="/oauth/authorize" style="display:inline">{self.xsrf_form_html()}{hidden}
<input type="hidden" name="_method" value="delete"><button type="submit">Deny</button></form>""",
        )

    def post(self):
        checked = self._request()
        if checked is None:
            return
        app, redirect_uri, scopes = checked
        user = self.require_login()
        if user is None:
            return
        if self.get_argument("_method", "") == "delete":
            return self.redirect(
                with_query(
                    redirect_uri,
                    {"error": "access_denied", "error_description": DENIED, "state": self.get_argument("state", None)},
                )
            )
        self._approve(app, redirect_uri, scopes, user.id)

    def _approve(self, app: Application, redirect_uri: str, scopes: list[str], user_id: int):
        code = secrets.token_hex(32)
        challenge = self.get_argument("code_challenge", None) or None
        self.ctx.grants[code] = Grant(
            code,
            app.uid,
            user_id,
            redirect_uri,
            scopes,
            challenge,
            self.get_argument("code_challenge_method", None) or ("plain" if challenge else None),
            time.time(),
        )
        self.redirect(with_query(redirect_uri, {"code": code, "state": self.get_argument("state", None)}))


class OAuthJson(web.RequestHandler):
    """JSON endpoints of the provider; errors follow RFC 6749 (``error`` + ``error_description``)."""

    def check_xsrf_cookie(self):  # machine-to-machine endpoints
        return None

    async def prepare(self):
        await network_latency(self)

    @property
    def ctx(self):
        return self.settings["ctx"]

    def reply(self, body: dict, status: int = 200, headers: dict | None = None):
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Pragma", "no-cache")
        for key, value in (headers or {}).items():
            self.set_header(key, value)
        self.finish(json.dumps(body))

    def error(self, error: str, description: str, status: int = 400):
        headers = (
            {"WWW-Authenticate": f'Bearer realm="Doorkeeper", error="{error}", error_description="{description}"'}
            if status == 401
            else None
        )
        self.reply({"error": error, "error_description": description}, status, headers)

    def client(self) -> Application | None:
        """The authenticated client (HTTP Basic or body fields), or None."""
        auth = self.request.headers.get("Authorization", "")
        creds = basic_credentials(auth) if auth[:6].lower() == "basic " else None
        uid, secret = (
            (urllib.parse.unquote(creds[0]), urllib.parse.unquote(creds[1]))
            if creds
            else (self.get_argument("client_id", ""), self.get_argument("client_secret", ""))
        )
        app = self.ctx.store.applications.get(uid)
        if app is None or not secrets.compare_digest(app.secret, secret):
            return None
        return app


class TokenHandler(OAuthJson):
    def post(self):
        grant_type = self.get_argument("grant_type", "")
        if not grant_type:
            return self.error("invalid_request", "Missing required parameter: grant_type.")
        if grant_type not in ("authorization_code", "refresh_token", "password"):
            return self.error(
                "unsupported_grant_type", "The authorization grant type is not supported by the authorization server."
            )
        app = self.client()
        if app is None:
            return self.error("invalid_client", INVALID_CLIENT, 401)
        tokens: TokenStore = self.ctx.tokens
        if grant_type == "authorization_code":
            code = self.get_argument("code", "")
            if not code:
                return self.error("invalid_request", "Missing required parameter: code.")
            grant = self.ctx.grants.get(code)
            if (
                grant is None
                or grant.used
                or grant.app_uid != app.uid
                or time.time() > grant.created + CODE_LIFETIME
                or grant.redirect_uri != self.get_argument("redirect_uri", "")
            ):
                return self.error("invalid_grant", INVALID_GRANT)
            if grant.challenge:
                verifier = self.get_argument("code_verifier", "")
                expected = s256(verifier) if grant.method == "S256" else verifier
                if not verifier or not secrets.compare_digest(expected, grant.challenge):
                    return self.error("invalid_grant", INVALID_GRANT)
            grant.used = True  # a code works once
            user_id, scopes = grant.user_id, grant.scopes
        elif grant_type == "refresh_token":
            old = tokens.tokens.get(self.get_argument("refresh_token", ""))
            if old is None or old.kind != "refresh" or old.revoked or old.app_uid != app.uid:
                return self.error("invalid_grant", INVALID_GRANT)
            owner = self.ctx.store.users.get(old.user_id)
            if owner is None or owner.state != "active":  # blocked (deleted users lose their tokens)
                return self.error("invalid_grant", INVALID_GRANT)
            tokens.revoke(old.value)  # revokes the paired access token too
            user_id, scopes = old.user_id, old.scopes
        else:  # password (resource owner credentials); GitLab defaults the scope to api
            user = self.ctx.store.user_by_name(self.get_argument("username", ""))
            if user is None or user.password != self.get_argument("password", ""):
                return self.error("invalid_grant", INVALID_GRANT)
            user_id, scopes = user.id, self.get_argument("scope", "api").split()
        access, refresh = tokens.issue_oauth(user_id, scopes, app.uid)
        self.reply(
            {
                "access_token": access.value,
                "token_type": "Bearer",
                "expires_in": access.expires_in,
                "refresh_token": refresh.value,
                "scope": " ".join(scopes),
                "created_at": int(access.created_at),
            }
        )


class TokenInfoHandler(OAuthJson):
    def get(self):
        auth = self.request.headers.get("Authorization", "")
        value = auth[7:].strip() if auth[:7].lower() == "bearer " else self.get_argument("access_token", "")
        token = self.ctx.tokens.tokens.get(value)
        if token is None or token.kind == "refresh":
            return self.error("invalid_token", "The access token is invalid", 401)
        if token.revoked:
            return self.error("invalid_token", "The access token was revoked", 401)
        if token.expired():
            return self.error("invalid_token", "The access token expired", 401)
        remaining = token.remaining()
        self.reply(
            {
                "resource_owner_id": token.user_id,
                "scope": token.scopes,
                "expires_in": remaining,
                "application": {"uid": token.app_uid},
                "created_at": int(token.created_at),
                "scopes": token.scopes,
                "expires_in_seconds": remaining,
            }
        )


class RevokeHandler(OAuthJson):
    def post(self):
        app = self.client()
        if app is None:
            return self.error("invalid_client", INVALID_CLIENT, 401)
        token = self.ctx.tokens.tokens.get(self.get_argument("token", ""))
        if token is not None and token.app_uid not in (None, app.uid):
            return self.error("unauthorized_client", "You are not authorized to revoke this token", 403)
        if token is not None:
            self.ctx.tokens.revoke(token.value)
        self.reply({})


class UserInfoHandler(OAuthJson):
    def get(self):
        auth = self.request.headers.get("Authorization", "")
        value = auth[7:].strip() if auth[:7].lower() == "bearer " else self.get_argument("access_token", "")
        token = self.ctx.tokens.tokens.get(value)
        if token is None or token.kind == "refresh" or token.revoked or token.expired():
            return self.error("invalid_token", "The access token is invalid", 401)
        if "openid" not in token.scopes:
            return self.error(
                "insufficient_scope", "The request requires higher privileges than provided by the access token.", 403
            )
        store = self.ctx.store
        user = store.users[token.user_id]
        # GitLab's claims: "groups" are the groups the user is a member of "either directly or
        # through an ancestor group"; the role claims list direct memberships with that role
        # (groups_direct is in the ID token only, which the stand-in does not issue)
        groups = sorted(g.full_path for g in store.groups.values() if store.group_members_all(g).get(user.id))
        claims = {
            "sub": str(user.id),
            "name": user.name,
            "nickname": user.username,
            "preferred_username": user.username,
            "email": user.email,
            "email_verified": True,
            "profile": f"{self.ctx.base_url}/{user.username}",
            "picture": None,
            "groups": groups,
        }
        for role, level in (("owner", 50), ("maintainer", 40), ("developer", 30)):
            claims[f"https://gitlab.org/claims/groups/{role}"] = sorted(
                g.full_path for g in store.groups.values() if g.members.get(user.id) == level
            )
        self.reply(claims)

    post = get


def routes() -> list:
    return [
        (r"/oauth/authorize", AuthorizeHandler),
        (r"/oauth/token", TokenHandler),
        (r"/oauth/token/info", TokenInfoHandler),
        (r"/oauth/revoke", RevokeHandler),
        (r"/oauth/userinfo", UserInfoHandler),
    ]
