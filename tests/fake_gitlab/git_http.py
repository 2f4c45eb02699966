"""Git smart HTTP at /<namespace>/<project>.git/… through ``git http-backend`` (CGI, run as an
asyncio subprocess), behind GitLab's Basic-auth check, scope/access rules and protected branches."""

from __future__ import annotations

import asyncio
import logging
import os

from tornado import web

from .model import DEVELOPER, REPORTER
from .mr_state import touch_moved
from .tokens import REPO_READ_SCOPES, REPO_WRITE_SCOPES, basic_credentials

log = logging.getLogger("fake_gitlab.git")
CGI_TIMEOUT = 300
NOT_FOUND = "The project you were looking for could not be found or you don't have permission to view it."


class GitHttpHandler(web.RequestHandler):
    def check_xsrf_cookie(self):  # git authenticates with Basic credentials
        return None

    @property
    def ctx(self):
        return self.settings["ctx"]

    def text(self, status: int, body: str, challenge: bool = False) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if challenge:
            self.set_header("WWW-Authenticate", 'Basic realm="GitLab"')
        self.finish(body)

    def _user(self):
        """(user, scopes) from Basic credentials: a token (any username, e.g. oauth2) or a password."""
        auth = self.request.headers.get("Authorization", "")
        creds = basic_credentials(auth) if auth[:6].lower() == "basic " else None
        if not creds:
            return None
        username, secret = creds
        token = self.ctx.tokens.tokens.get(secret)
        if token is not None and token.kind in ("oauth", "pat"):
            if token.revoked or token.expired():
                return None
            user = self.ctx.store.users.get(token.user_id)
            return (user, token.scopes) if user and user.state == "active" else None
        user = self.ctx.store.user_by_name(username)
        if user is not None and user.password and user.password == secret and user.state == "active":
            return user, list(REPO_WRITE_SCOPES)
        return None

    async def get(self, path, service):
        await self.serve(path, service)

    async def post(self, path, service):
        await self.serve(path, service)

    async def serve(self, path: str, service: str):
        store = self.ctx.store
        wanted = self.get_query_argument("service", "") if service == "info/refs" else service
        if wanted not in ("git-upload-pack", "git-receive-pack"):
            return self.text(403, "Unsupported git service; use a git client >= 2.0 with smart HTTP.\n")
        write = wanted == "git-receive-pack"
        found = self._user()
        if found is None:
            return self.text(401, "HTTP Basic: Access denied\n", challenge=True)
        user, scopes = found
        project = store.project_by_ref(path)
        if project is None or not store.can_see_project(project, user):
            return self.text(404, NOT_FOUND + "\n")
        needed = REPO_WRITE_SCOPES if write else REPO_READ_SCOPES
        level = store.project_access(project, user)
        if not set(scopes) & set(needed) or level < (DEVELOPER if write else REPORTER):
            verb = "push code to" if write else "download code from"
            return self.text(403, f"You are not allowed to {verb} this project.\n")
        await self.run_backend(project, user, service)

    async def run_backend(self, project, user, service: str) -> None:
        store, repos = self.ctx.store, self.ctx.repos
        denied = [b for b in project.protected if not store.can_push(project, user, b)[0]]
        force_ok = [b for b, rule in project.protected.items() if rule.allow_force_push]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(repos.root),
            "GIT_PROJECT_ROOT": str(repos.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{project.id}.git/{service}",
            "REQUEST_METHOD": self.request.method,
            "QUERY_STRING": self.request.query,
            "REMOTE_USER": user.username,
            "REMOTE_ADDR": self.request.remote_ip or "127.0.0.1",
            "CONTENT_TYPE": self.request.headers.get("Content-Type", ""),
            "GL_DENIED_BRANCHES": "\n".join(denied),
            "GL_PROTECTED_BRANCHES": "\n".join(project.protected),
            "GL_FORCE_PUSH_BRANCHES": "\n".join(force_ok),
            "GL_DEFAULT_BRANCH": project.default_branch,
            "GL_PROJECT_URL": f"{self.ctx.base_url}/{project.full_path}",
        }
        body = self.request.body or b""
        if self.request.method == "POST":
            env["CONTENT_LENGTH"] = str(len(body))
        if self.request.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.request.headers["Content-Encoding"]
        if self.request.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.request.headers["Git-Protocol"]
        before = await repos.branches(project.id) if service == "git-receive-pack" else None
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(body), CGI_TIMEOUT)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return self.text(504, "git http-backend timed out\n")
        if before is not None:
            touch_moved(project, before, await repos.branches(project.id))
        if err.strip():
            log.info("git http-backend (%s %s): %s", project.full_path, service, err.decode(errors="replace").strip())
        sep = out.find(b"\r\n\r\n")
        head, payload = (
            (out[:sep], out[sep + 4 :]) if sep >= 0 else out.split(b"\n\n", 1) if b"\n\n" in out else (out, b"")
        )
        self.set_status(200)
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                code, _, reason = value.strip().partition(" ")
                self.set_status(int(code), reason or None)
            elif name:
                self.set_header(name.strip(), value.strip())
        self.finish(payload)


def routes() -> list:
    return [(r"/(.+?)\.git/(info/refs|git-upload-pack|git-receive-pack)", GitHttpHandler)]
