"""Access tokens (OAuth and personal), how requests carry them, and GitLab's auth error bodies.

Mirrors GL ``lib/api/api_guard.rb``: Bearer / ``?access_token=`` for OAuth tokens, and
``PRIVATE-TOKEN`` / ``?private_token=`` / HTTP Basic for personal access tokens (a PAT also works
as a Bearer token). Errors carry the exact shapes of the contract.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field

READ_SCOPES = ("api", "read_api")
REPO_READ_SCOPES = ("api", "read_repository", "write_repository")
REPO_WRITE_SCOPES = ("api", "write_repository")
KNOWN_SCOPES = (
    "api",
    "read_api",
    "read_user",
    "read_repository",
    "write_repository",
    "sudo",
    "admin_mode",
    "openid",
    "profile",
    "email",
    "read_registry",
    "write_registry",
)

BAD_TOKEN = "Bad Access Token."
EXPIRED = "Token is expired. You can either do re-authorization or token refresh."
REVOKED = "Token was revoked. You have to re-authorize from the user."
INSUFFICIENT = "The request requires higher privileges than provided by the access token."


class AuthError(Exception):
    """An authentication/authorization failure with the HTTP status, JSON body and headers to send."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(body)
        self.status, self.body, self.headers = status, body, headers or {}


def unauthorized() -> AuthError:
    return AuthError(401, {"message": "401 Unauthorized"})


def invalid_token(description: str) -> AuthError:
    challenge = f'Bearer realm="Protected by OAuth 2.0", error="invalid_token", error_description="{description}"'
    return AuthError(401, {"error": "invalid_token", "error_description": description}, {"WWW-Authenticate": challenge})


def insufficient_scope(scopes) -> AuthError:
    wanted = " ".join(scopes)
    challenge = (
        f'Bearer realm="Protected by OAuth 2.0", error="insufficient_scope", '
        f'error_description="{INSUFFICIENT}", scope="{wanted}"'
    )
    return AuthError(
        403,
        {"error": "insufficient_scope", "error_description": INSUFFICIENT, "scope": wanted},
        {"WWW-Authenticate": challenge},
    )


@dataclass
class Token:
    value: str
    kind: str  # "oauth" | "pat" | "refresh"
    user_id: int
    scopes: list[str]
    created_at: float = field(default_factory=time.time)
    expires_in: int | None = None  # seconds; None = never (PAT without expiry)
    revoked: bool = False
    app_uid: str | None = None
    name: str = ""
    id: int = 0
    pair: str | None = None  # the access token of a refresh token, and vice versa

    def expired(self, now: float | None = None) -> bool:
        return self.expires_in is not None and (now or time.time()) >= self.created_at + self.expires_in

    def remaining(self) -> int | None:
        if self.expires_in is None:
            return None
        return max(0, int(self.created_at + self.expires_in - time.time()))


class TokenStore:
    """Every token the server issued (seeded PATs included)."""

    def __init__(self, expires_in: int = 7200):
        self.expires_in = expires_in
        self.tokens: dict[str, Token] = {}
        self._next_id = 1

    def add(self, token: Token) -> Token:
        token.id, self._next_id = self._next_id, self._next_id + 1
        self.tokens[token.value] = token
        return token

    def issue_oauth(self, user_id: int, scopes: list[str], app_uid: str | None) -> tuple[Token, Token]:
        access = self.add(
            Token(secrets.token_hex(32), "oauth", user_id, list(scopes), expires_in=self.expires_in, app_uid=app_uid)
        )
        refresh = self.add(Token(secrets.token_hex(32), "refresh", user_id, list(scopes), app_uid=app_uid))
        access.pair, refresh.pair = refresh.value, access.value
        return access, refresh

    def issue_pat(
        self, user_id: int, name: str, scopes: list[str], value: str | None = None, expires_in: int | None = None
    ) -> Token:
        return self.add(
            Token(
                value or "glpat-" + secrets.token_urlsafe(20),
                "pat",
                user_id,
                list(scopes),
                name=name,
                expires_in=expires_in,
            )
        )

    def revoke(self, value: str) -> None:
        token = self.tokens.get(value)
        if token is None:
            return
        token.revoked = True
        if token.pair and token.pair in self.tokens:
            self.tokens[token.pair].revoked = True

    def check(self, value: str, kinds=("oauth", "pat")) -> Token:
        """The live token for ``value`` or the GitLab invalid_token error."""
        token = self.tokens.get(value)
        if token is None or token.kind not in kinds:
            raise invalid_token(BAD_TOKEN)
        if token.revoked:
            raise invalid_token(REVOKED)
        if token.expired():
            raise invalid_token(EXPIRED)
        return token


def token_from_request(headers, query: dict[str, list[bytes]]) -> tuple[str, tuple[str, ...]] | None:
    """The token a request carries and which kinds it may be, or None without credentials."""
    auth = headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), ("oauth", "pat")
    if headers.get("Private-Token"):
        return headers["Private-Token"].strip(), ("pat",)
    if auth[:6].lower() == "basic ":
        secret = basic_password(auth)
        if secret:
            return secret, ("pat", "oauth")
    if query.get("access_token"):
        return query["access_token"][0].decode(), ("oauth", "pat")
    if query.get("private_token"):
        return query["private_token"][0].decode(), ("pat",)
    return None


def basic_password(auth_header: str) -> str | None:
    """The password of an HTTP Basic header (for git, ``oauth2:<token>``), or None."""
    try:
        decoded = base64.b64decode(auth_header[6:].strip()).decode()
    except Exception:  # malformed Basic credentials are the same as none
        return None
    _, _, password = decoded.partition(":")
    return password or None


def basic_credentials(auth_header: str) -> tuple[str, str] | None:
    try:
        user, sep, password = base64.b64decode(auth_header[6:].strip()).decode().partition(":")
    except Exception:  # malformed Basic credentials are the same as none
        return None
    return (user, password) if sep else None


def require_scope(token: Token, accepted) -> None:
    if not set(token.scopes) & set(accepted):
        raise insufficient_scope(accepted)
