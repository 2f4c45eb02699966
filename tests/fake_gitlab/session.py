"""Browser sessions: the sign-in form, sign-out, and the page layout the HTML views share.

Field names follow GitLab's own sign-in form (``user[login]``, ``user[password]``, button
"Sign in") so browser tests written for GitLab work here too.
"""

from __future__ import annotations

import html
import urllib.parse

from tornado import web

from .model import User

COOKIE = "_gitlab_session"

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222}header{background:#292961;color:#fff;padding:.6em 1em}
header a{color:#fff}main{max-width:60em;margin:1em auto;padding:0 1em}
.diff{font-family:monospace;white-space:pre;background:#f6f6f6;padding:.5em;overflow:auto}
.add{color:#060}.del{color:#a00}button{padding:.4em 1em;margin:.2em}.state{font-weight:bold}
table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}
.error{color:#a00}
"""


class WebHandler(web.RequestHandler):
    """Base of the HTML pages: session user from a signed cookie, escaped page layout."""

    @property
    def ctx(self):
        return self.settings["ctx"]

    def get_current_user(self) -> User | None:
        raw = self.get_signed_cookie(COOKIE)
        if not raw:
            return None
        user = self.ctx.store.users.get(int(raw))
        return user if user is not None and user.state == "active" else None

    def page(self, title: str, body: str, status: int = 200) -> None:
        """Send a full HTML page; ``body`` must already be escaped by the caller."""
        user = self.current_user
        who = (
            (
                f'{html.escape(user.username)} · <form method="post" action="/users/sign_out" style="display:inline">'
                f"{self.xsrf_form_html()}<button>Sign out</button></form>"
            )
            if user
            else '<a href="/users/sign_in">Sign in</a>'
        )
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} · GitLab</title>"
            f"<style>{STYLE}</style></head><body><header><a href='/'>GitLab stand-in</a> — {who}</header>"
            f"<main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
        )

    def require_login(self) -> User | None:
        """The session user, or None after redirecting the browser to the sign-in page."""
        user = self.current_user
        if user is None:
            self.redirect("/users/sign_in?" + urllib.parse.urlencode({"redirect_to": self.request.uri}))
        return user


def safe_target(target: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class SignInHandler(WebHandler):
    def get(self, error: str = ""):
        target = safe_target(self.get_argument("redirect_to", None))
        err = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        self.page(
            "Sign in",
            f"""{err}
<form method="post" action="/users/sign_in" id="new_user">{self.xsrf_form_html()}
<input type="hidden" name="redirect_to" value="{html.escape(target)}">
<p><label for="user_login">Username or primary email</label><br>
<input id="user_login" name="user[login]" autocomplete="username" required></p>
<p><label for="user_password">Password</label><br>
<input id="user_password" name="user[password]" type="password" autocomplete="current-password" required></p>
<p><button type="submit" name="button" data-testid="sign-in-button">Sign in</button></p></form>""",
            status=401 if error else 200,
        )

    def post(self):
        login = self.get_argument("user[login]", "")
        password = self.get_argument("user[password]", "")
        store = self.ctx.store
        user = store.user_by_name(login) or next(
            (u for u in store.users.values() if u.email.lower() == login.lower()), None
        )
        if user is None or user.password != password or user.state != "active":
            return self.get(error="Invalid login or password.")
        self.set_signed_cookie(COOKIE, str(user.id), httponly=True, samesite="Lax")
        self.redirect(safe_target(self.get_argument("redirect_to", None)))


class SignOutHandler(WebHandler):
    def post(self):
        self.clear_cookie(COOKIE)
        self.redirect("/users/sign_in")


def routes() -> list:
    return [(r"/users/sign_in", SignInHandler), (r"/users/sign_out", SignOutHandler)]
