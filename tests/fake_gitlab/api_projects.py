"""/projects: list, get (numeric id or URL-encoded path), create."""

from __future__ import annotations

from .base import ApiError, ApiHandler, not_found
from .model import DEVELOPER, OWNER, Project, User
from .pagination import paginate


def project_json(handler: ApiHandler, project: Project, me: User) -> dict:
    base, store = handler.ctx.base_url, handler.store
    group = store.namespace_group(project)
    owner = None if group else store.user_by_name(project.namespace)
    namespace = (
        {
            "id": group.id,
            "name": group.name,
            "path": group.path,
            "kind": "group",
            "full_path": group.full_path,
            "parent_id": group.parent_id,
            "avatar_url": None,
            "web_url": f"{base}/groups/{group.full_path}",
        }
        if group
        else {
            "id": owner.id if owner else 0,
            "name": owner.name if owner else project.namespace,
            "path": project.namespace,
            "kind": "user",
            "full_path": project.namespace,
            "parent_id": None,
            "avatar_url": None,
            "web_url": f"{base}/{project.namespace}",
        }
    )
    direct = project.members.get(me.id)
    group_level = store.group_members_all(group).get(me.id) if group else None
    return {
        "id": project.id,
        "description": project.description,
        "name": project.name,
        "name_with_namespace": f"{namespace['name']} / {project.name}",
        "path": project.path,
        "path_with_namespace": project.full_path,
        "created_at": project.created_at,
        "default_branch": project.default_branch,
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": f"git@{base.split('://', 1)[-1].split('/')[0].split(':')[0]}:{project.full_path}.git",
        "http_url_to_repo": f"{base}/{project.full_path}.git",
        "web_url": f"{base}/{project.full_path}",
        "readme_url": None,
        "avatar_url": None,
        "forks_count": 0,
        "star_count": 0,
        "last_activity_at": project.created_at,
        "namespace": namespace,
        "visibility": project.visibility,
        "empty_repo": False,
        "archived": False,
        "issues_enabled": True,
        "merge_requests_enabled": True,
        "jobs_enabled": False,
        "wiki_enabled": False,
        "snippets_enabled": False,
        "merge_method": project.merge_method,
        "squash_option": "default_off",
        "remove_source_branch_after_merge": True,
        "only_allow_merge_if_pipeline_succeeds": False,
        "only_allow_merge_if_all_discussions_are_resolved": False,
        "creator_id": 1,
        "open_issues_count": 0,
        "_links": {
            "self": f"{base}/api/v4/projects/{project.id}",
            "merge_requests": f"{base}/api/v4/projects/{project.id}/merge_requests",
            "repo_branches": f"{base}/api/v4/projects/{project.id}/repository/branches",
        },
        "permissions": {
            "project_access": {"access_level": direct, "notification_level": 3} if direct else None,
            "group_access": {"access_level": group_level, "notification_level": 3} if group_level else None,
        },
    }


class ProjectsHandler(ApiHandler):
    def get(self):
        me = self.authenticate()
        store = self.store
        projects = [p for p in sorted(store.projects.values(), key=lambda p: p.id) if store.can_see_project(p, me)]
        if self.flag("membership"):
            projects = [p for p in projects if store.project_members_all(p).get(me.id)]
        min_level = self.int_param("min_access_level")
        if min_level is not None:
            projects = [p for p in projects if store.project_access(p, me) >= min_level]
        search = self.param("search")
        if search:
            projects = [p for p in projects if search.lower() in (p.full_path + " " + p.name).lower()]
        if self.param("order_by", "created_at") in ("created_at", "id") and self.param("sort", "desc") == "desc":
            projects.reverse()
        self.send_json([project_json(self, p, me) for p in paginate(self, projects)])

    async def post(self):
        me = self.authenticate()
        name = self.param("name") or self.param("path")
        if not name:
            raise ApiError(400, {"error": "name, path are missing, at least one parameter must be provided"})
        path = self.param("path") or name.lower().replace(" ", "-")
        namespace = me.username
        ns_id = self.param("namespace_id")
        if ns_id:
            group = self.store.group_by_ref(str(ns_id))
            if group is None:
                raise not_found("Namespace")
            if self.store.group_access(group, me) < DEVELOPER:
                raise ApiError(403, {"message": "403 Forbidden"})
            namespace = group.full_path
        if self.store.project_by_ref(f"{namespace}/{path}") is not None:
            raise ApiError(400, {"message": {"name": ["has already been taken"], "path": ["has already been taken"]}})
        project = Project(
            self.store.next_id(),
            namespace,
            path,
            name,
            self.param("default_branch", "main"),
            self.param("description", ""),
            self.param("visibility", "private"),
        )
        if not ns_id:
            project.members[me.id] = OWNER
        self.store.projects[project.id] = project
        await self.ctx.repos.create(project.id, project.default_branch)
        if self.flag("initialize_with_readme"):
            repos = self.ctx.repos
            sha = await repos.commit_files(
                project.id,
                None,
                [{"action": "create", "file_path": "README.md", "content": f"# {name}\n"}],
                "Initial commit",
                me.name,
                me.email,
            )
            await repos.update_ref(project.id, f"refs/heads/{project.default_branch}", sha)
        self.send_json(project_json(self, project, me), 201)


class ProjectHandler(ApiHandler):
    def get(self, ref):
        me = self.authenticate()
        self.send_json(project_json(self, self.project(ref, me), me))


def routes() -> list:
    p = r"/api/v4/projects"
    return [(p, ProjectsHandler), (p + r"/([^/]+)", ProjectHandler)]
