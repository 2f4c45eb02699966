"""Repository branches and protected branches; branch data always comes from the bare repo's refs."""

from __future__ import annotations

import re

from .base import ApiError, ApiHandler, forbidden, not_found
from .model import ACCESS_NAMES, DEVELOPER, MAINTAINER, Project, ProtectedBranch, User
from .pagination import paginate


def commit_json(c: dict, base: str, project: Project) -> dict:
    message = c["message"]
    return {
        "id": c["id"],
        "short_id": c["id"][:8],
        "created_at": c["committed_date"],
        "parent_ids": c["parent_ids"],
        "title": message.split("\n", 1)[0],
        "message": message,
        "author_name": c["author_name"],
        "author_email": c["author_email"],
        "authored_date": c["authored_date"],
        "committer_name": c["committer_name"],
        "committer_email": c["committer_email"],
        "committed_date": c["committed_date"],
        "trailers": {},
        "extended_trailers": {},
        "web_url": f"{base}/{project.full_path}/-/commit/{c['id']}",
    }


async def commits_by_sha(handler: ApiHandler, project: Project, shas) -> dict[str, dict]:
    shas = sorted(set(shas))
    if not shas:
        return {}
    commits = await handler.ctx.repos.log(project.id, shas, extra=["--no-walk=unsorted"])
    return {c["id"]: commit_json(c, handler.ctx.base_url, project) for c in commits}


async def branches_json(handler: ApiHandler, project: Project, me: User, pairs: list[tuple[str, str]]) -> list:
    repos, store = handler.ctx.repos, handler.store
    default_sha = await repos.resolve(project.id, project.default_branch)
    merged = set()
    if default_sha:
        out = await repos.git(
            project.id, "for-each-ref", "--format=%(refname)", f"--merged={default_sha}", "refs/heads"
        )
        merged = {line[len("refs/heads/") :] for line in out.decode().splitlines()}
    commits = await commits_by_sha(handler, project, [sha for _, sha in pairs])
    result = []
    for name, sha in pairs:
        rule = project.protected.get(name)
        result.append(
            {
                "name": name,
                "merged": name in merged and name != project.default_branch,
                "protected": rule is not None,
                "default": name == project.default_branch,
                "developers_can_push": rule is None or rule.push_access_level == DEVELOPER,
                "developers_can_merge": rule is None or rule.merge_access_level == DEVELOPER,
                "can_push": store.can_push(project, me, name)[0],
                "web_url": f"{handler.ctx.base_url}/{project.full_path}/-/tree/{name}",
                "commit": commits.get(sha),
            }
        )
    return result


class BranchesHandler(ApiHandler):
    async def get(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        branches = sorted((await self.ctx.repos.branches(project.id)).items())
        search = self.param("search")
        if search:
            if search.startswith("^"):
                branches = [b for b in branches if b[0].startswith(search[1:])]
            elif search.endswith("$"):
                branches = [b for b in branches if b[0].endswith(search[:-1])]
            else:
                branches = [b for b in branches if search.lower() in b[0].lower()]
        regex = self.param("regex")
        if regex:
            try:
                pattern = re.compile(regex)
            except re.error:
                raise ApiError(400, {"message": "400 Bad request - regex is invalid"}) from None
            branches = [b for b in branches if pattern.search(b[0])]
        self.send_json(await branches_json(self, project, me, paginate(self, branches)))

    async def post(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        self.require_access(project, me, DEVELOPER)
        name = self.param("branch", required=True)
        start = self.param("ref", required=True)
        repos = self.ctx.repos
        if not await repos.valid_ref_name(name):
            raise ApiError(400, {"message": "Branch name is invalid"})
        async with repos.lock(project.id):
            if name in await repos.branches(project.id):
                raise ApiError(400, {"message": "Branch already exists"})
            sha = await repos.resolve(project.id, start)
            if sha is None:
                raise ApiError(400, {"message": "Invalid reference name: " + start})
            await repos.update_ref(project.id, f"refs/heads/{name}", sha, "0" * 40)
        self.send_json((await branches_json(self, project, me, [(name, sha)]))[0], 201)


class BranchHandler(ApiHandler):
    async def get(self, ref, name):
        me = self.authenticate()
        project = self.project(ref, me)
        sha = (await self.ctx.repos.branches(project.id)).get(name)
        if sha is None:
            raise not_found("Branch")
        self.send_json((await branches_json(self, project, me, [(name, sha)]))[0])

    async def delete(self, ref, name):
        me = self.authenticate()
        project = self.project(ref, me)
        self.require_access(project, me, DEVELOPER)
        repos = self.ctx.repos
        if name not in await repos.branches(project.id):
            raise not_found("Branch")
        if name == project.default_branch:
            raise ApiError(400, {"message": "The default branch of a project cannot be deleted."})
        if name in project.protected and self.store.project_access(project, me) < MAINTAINER:
            raise forbidden()
        await repos.delete_ref(project.id, f"refs/heads/{name}")
        self.set_status(204)
        self.finish()


def levels(level: int, id_: int) -> list[dict]:
    return [
        {
            "id": id_,
            "access_level": level,
            "access_level_description": ACCESS_NAMES.get(level, str(level)),
            "deploy_key_id": None,
            "user_id": None,
            "group_id": None,
        }
    ]


def protected_json(rule: ProtectedBranch) -> dict:
    return {
        "id": rule.id,
        "name": rule.name,
        "push_access_levels": levels(rule.push_access_level, rule.id * 10 + 1),
        "merge_access_levels": levels(rule.merge_access_level, rule.id * 10 + 2),
        "unprotect_access_levels": levels(rule.unprotect_access_level, rule.id * 10 + 3),
        "allow_force_push": rule.allow_force_push,
        "code_owner_approval_required": False,
    }


class ProtectedBranchesHandler(ApiHandler):
    def get(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        rules = sorted(project.protected.values(), key=lambda r: r.id)
        self.send_json([protected_json(r) for r in paginate(self, rules)])

    def post(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        self.require_access(project, me, MAINTAINER)
        name = self.param("name", required=True)
        if name in project.protected:
            raise ApiError(409, {"message": f"Protected branch '{name}' already exists"})
        values = {}
        for key in ("push_access_level", "merge_access_level", "unprotect_access_level"):
            values[key] = self.int_param(key, MAINTAINER)
            if values[key] not in (0, 30, 40, 60):
                raise ApiError(400, {"error": f"{key} does not have a valid value"})
        rule = ProtectedBranch(self.store.next_id(), name, allow_force_push=self.flag("allow_force_push"), **values)
        project.protected[name] = rule
        self.send_json(protected_json(rule), 201)


class ProtectedBranchHandler(ApiHandler):
    def get(self, ref, name):
        me = self.authenticate()
        rule = self.project(ref, me).protected.get(name)
        if rule is None:
            raise not_found()
        self.send_json(protected_json(rule))

    def delete(self, ref, name):
        me = self.authenticate()
        project = self.project(ref, me)
        self.require_access(project, me, MAINTAINER)
        if project.protected.pop(name, None) is None:
            raise not_found()
        self.set_status(204)
        self.finish()


def routes() -> list:
    p = r"/api/v4/projects/([^/]+)"
    return [
        (p + r"/repository/branches", BranchesHandler),
        (p + r"/repository/branches/(.+)", BranchHandler),
        (p + r"/protected_branches", ProtectedBranchesHandler),
        (p + r"/protected_branches/(.+)", ProtectedBranchHandler),
    ]
