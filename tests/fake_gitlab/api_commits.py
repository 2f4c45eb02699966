"""Commits (list, get, diff, create with actions), compare, files and tags, read from real refs."""

from __future__ import annotations

import base64
import hashlib

from .api_branches import commit_json
from .base import ApiError, ApiHandler, forbidden, not_found
from .model import DEVELOPER, MAINTAINER, Project, User
from .mr_state import touch_moved
from .pagination import paginate
from .repos import GitError


class CommitsHandler(ApiHandler):
    async def get(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        repos = self.ctx.repos
        extra = []
        if self.flag("all"):
            rev = ["--all"]
        else:
            sha = await repos.resolve(project.id, self.param("ref_name", project.default_branch))
            if sha is None:
                return self.send_json([])
            rev = [sha]
        for name, option in (("since", "--since"), ("until", "--until"), ("author", "--author")):
            if self.param(name):
                extra.append(f"{option}={self.param(name)}")
        if self.flag("first_parent"):
            extra.append("--first-parent")
        if self.param("order") == "topo":
            extra.append("--topo-order")
        path = self.param("path")
        commits = await repos.log(project.id, rev, paths=[path] if path else None, extra=extra)
        self.send_json([commit_json(c, self.ctx.base_url, project) for c in paginate(self, commits)])

    async def post(self, ref):
        """python-gitlab ``project.commits.create``: branch, commit_message, actions[]."""
        me = self.authenticate()
        project = self.project(ref, me)
        branch = self.param("branch", required=True)
        message = self.param("commit_message", required=True)
        actions = self.param("actions", required=True)
        if not isinstance(actions, list):
            raise ApiError(400, {"error": "actions is invalid"})
        sha = await write_commit(self, project, me, branch, self.param("start_branch"), actions, message)
        commit = await self.ctx.repos.commit(project.id, sha)
        self.send_json(commit_json(commit, self.ctx.base_url, project), 201)


async def write_commit(
    handler: ApiHandler,
    project: Project,
    me: User,
    branch: str,
    start_branch: str | None,
    actions: list[dict],
    message: str,
) -> str:
    """Commit ``actions`` on ``branch`` (created from ``start_branch`` if new) as ``me``."""
    allowed, reason = handler.store.can_push(project, me, branch)
    if not allowed:
        raise ApiError(403, {"message": "You are not allowed to push into this branch"})
    repos = handler.ctx.repos
    async with repos.lock(project.id):
        parent = (await repos.branches(project.id)).get(branch)
        if parent is None and start_branch:
            parent = await repos.resolve(project.id, start_branch)
            if parent is None:
                raise ApiError(400, {"message": "You can only create or edit files when you are on a branch"})
        elif parent is None and await repos.resolve(project.id, project.default_branch):
            raise ApiError(400, {"message": "You can only create or edit files when you are on a branch"})
        normalized = []
        for action in actions:
            kind = action.get("action")
            if kind not in ("create", "update", "delete") or not action.get("file_path"):
                raise ApiError(400, {"error": "actions[action] does not have a valid value"})
            content = action.get("content", "")
            if action.get("encoding") == "base64":
                content = base64.b64decode(content)
            normalized.append({**action, "content": content})
        sha = await repos.commit_files(project.id, parent, normalized, message, me.name, me.email)
        await repos.update_ref(project.id, f"refs/heads/{branch}", sha, parent or "0" * 40)
    touch_moved(project, {branch: parent}, {branch: sha})
    return sha


class CommitHandler(ApiHandler):
    async def get(self, ref, sha, what):
        me = self.authenticate()
        project = self.project(ref, me)
        repos = self.ctx.repos
        resolved = await repos.resolve(project.id, sha)
        if resolved is None:
            raise not_found("Commit")
        commit = await repos.commit(project.id, resolved)
        if what == "/diff":
            parent = commit["parent_ids"][0] if commit["parent_ids"] else "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
            return self.send_json(paginate(self, await repos.diffs(project.id, parent, resolved)))
        data = commit_json(commit, self.ctx.base_url, project)
        numstat = (await repos.git(project.id, "show", "--numstat", "--format=", resolved)).decode()
        adds = dels = 0
        for line in numstat.splitlines():
            a, d, _ = (line.split("\t", 2) + ["", ""])[:3]
            adds += int(a) if a.isdigit() else 0
            dels += int(d) if d.isdigit() else 0
        data.update(
            {
                "stats": {"additions": adds, "deletions": dels, "total": adds + dels},
                "status": None,
                "last_pipeline": None,
                "project_id": project.id,
            }
        )
        self.send_json(data)


class CompareHandler(ApiHandler):
    async def get(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        repos = self.ctx.repos
        source, target = self.param("from", required=True), self.param("to", required=True)
        a, b = await repos.resolve(project.id, source), await repos.resolve(project.id, target)
        if a is None or b is None:
            raise not_found("Ref")
        base = a if self.flag("straight") else (await repos.merge_base(project.id, a, b) or a)
        commits = await repos.log(project.id, [f"{a}..{b}"], extra=["--reverse"])
        commits = [commit_json(c, self.ctx.base_url, project) for c in commits]
        self.send_json(
            {
                "commit": commits[-1] if commits else None,
                "commits": commits,
                "diffs": await repos.diffs(project.id, base, b),
                "compare_timeout": False,
                "compare_same_ref": source == target,
                "web_url": f"{self.ctx.base_url}/{project.full_path}/-/compare/{a}...{b}",
            }
        )


class FileHandler(ApiHandler):
    """GET/POST/PUT /repository/files/:file_path (and /raw)."""

    async def get(self, ref, path, raw):
        me = self.authenticate()
        project = self.project(ref, me)
        repos = self.ctx.repos
        sha = await repos.resolve(project.id, self.param("ref", project.default_branch))
        if sha is None:
            raise not_found("File")
        try:
            blob_id = (await repos.git(project.id, "rev-parse", f"{sha}:{path}")).decode().strip()
            content = await repos.git(project.id, "cat-file", "blob", blob_id)
        except GitError:
            raise not_found("File") from None
        if raw:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            return self.finish(content)
        last = await repos.log(project.id, [sha], paths=[path], limit=1)
        self.send_json(
            {
                "file_name": path.rsplit("/", 1)[-1],
                "file_path": path,
                "size": len(content),
                "encoding": "base64",
                "content": base64.b64encode(content).decode(),
                "content_sha256": hashlib.sha256(content).hexdigest(),
                "ref": self.param("ref", project.default_branch),
                "blob_id": blob_id,
                "commit_id": sha,
                "last_commit_id": last[0]["id"] if last else sha,
            }
        )

    async def _write(self, ref, path, kind):
        me = self.authenticate()
        project = self.project(ref, me)
        branch = self.param("branch", required=True)
        message = self.param("commit_message", required=True)
        action = {
            "action": kind,
            "file_path": path,
            "content": self.param("content", ""),
            "encoding": self.param("encoding", "text"),
        }
        await write_commit(self, project, me, branch, self.param("start_branch"), [action], message)
        self.send_json({"file_path": path, "branch": branch}, 201 if kind == "create" else 200)

    async def post(self, ref, path, raw):
        await self._write(ref, path, "create")

    async def put(self, ref, path, raw):
        await self._write(ref, path, "update")


def tag_json(tag: dict, commit: dict, protected: bool = False) -> dict:
    return {
        "name": tag["name"],
        "message": tag["message"],
        "target": tag["target"],
        "commit": commit,
        "release": None,
        "protected": protected,
        "created_at": tag["created_at"],
    }


async def tags_json(handler: ApiHandler, project: Project, tags: list[dict]) -> list[dict]:
    from .api_branches import commits_by_sha

    commits = await commits_by_sha(handler, project, [t["commit_sha"] for t in tags])
    return [tag_json(t, commits.get(t["commit_sha"])) for t in tags]


class TagsHandler(ApiHandler):
    async def get(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        tags = await self.ctx.repos.tags(project.id)
        search = self.param("search")
        if search:
            tags = [t for t in tags if search.lower() in t["name"].lower()]
        if self.param("order_by") == "name":
            tags.sort(key=lambda t: t["name"], reverse=self.param("sort", "desc") == "desc")
        self.send_json(await tags_json(self, project, paginate(self, tags)))

    async def post(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        self.require_access(project, me, DEVELOPER)
        name, target = self.param("tag_name", required=True), self.param("ref", required=True)
        repos = self.ctx.repos
        if not await repos.valid_ref_name(name, "tags"):
            raise ApiError(405, {"message": "Tag name invalid"})
        sha = await repos.resolve(project.id, target)
        if sha is None:
            raise ApiError(405, {"message": "Target " + target + " is invalid"})
        async with repos.lock(project.id):
            if any(t["name"] == name for t in await repos.tags(project.id)):
                raise ApiError(405, {"message": f"Tag {name} already exists"})
            await repos.create_tag(project.id, name, sha, self.param("message"), (me.name, me.email))
        tag = next(t for t in await repos.tags(project.id) if t["name"] == name)
        self.send_json((await tags_json(self, project, [tag]))[0], 201)


class TagHandler(ApiHandler):
    async def get(self, ref, name):
        me = self.authenticate()
        project = self.project(ref, me)
        tag = next((t for t in await self.ctx.repos.tags(project.id) if t["name"] == name), None)
        if tag is None:
            raise not_found("Tag")
        self.send_json((await tags_json(self, project, [tag]))[0])

    async def delete(self, ref, name):
        me = self.authenticate()
        project = self.project(ref, me)
        if self.store.project_access(project, me) < MAINTAINER:
            raise forbidden()
        if not any(t["name"] == name for t in await self.ctx.repos.tags(project.id)):
            raise not_found("Tag")
        await self.ctx.repos.delete_ref(project.id, f"refs/tags/{name}")
        self.set_status(204)
        self.finish()


def routes() -> list:
    p = r"/api/v4/projects/([^/]+)/repository"
    return [
        (p + r"/commits", CommitsHandler),
        (p + r"/commits/([^/]+)(/diff)?", CommitHandler),
        (p + r"/compare", CompareHandler),
        (p + r"/files/([^/]+?)(/raw)?", FileHandler),
        (p + r"/tags", TagsHandler),
        (p + r"/tags/(.+)", TagHandler),
    ]
