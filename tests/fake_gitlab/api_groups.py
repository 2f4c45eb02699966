"""/groups: list (with ``min_access_level``), get, subgroups and projects of a group."""

from __future__ import annotations

from .base import ApiHandler, not_found, unquote_ref
from .model import Group
from .pagination import paginate


def group_json(group: Group, base_url: str) -> dict:
    return {
        "id": group.id,
        "web_url": f"{base_url}/groups/{group.full_path}",
        "name": group.name,
        "path": group.path,
        "description": "",
        "visibility": "private",
        "full_name": group.name,
        "full_path": group.full_path,
        "created_at": group.created_at,
        "parent_id": group.parent_id,
        "avatar_url": None,
        "share_with_group_lock": False,
        "require_two_factor_authentication": False,
        "project_creation_level": "developer",
        "subgroup_creation_level": "maintainer",
        "lfs_enabled": True,
        "request_access_enabled": False,
        "default_branch": None,
    }


class GroupsHandler(ApiHandler):
    def get(self):
        me = self.authenticate()
        store = self.store
        groups = [g for g in sorted(store.groups.values(), key=lambda g: g.full_path) if store.can_see_group(g, me)]
        min_level = self.int_param("min_access_level")
        if min_level is not None:
            # GitLab (GroupsFinder#groups_with_min_access_level): the groups the user is a *direct*
            # member of with at least that level, and all their descendants; admins are no exception
            groups = store.groups_with_min_access_level(me, min_level)
        if self.flag("top_level_only"):
            groups = [g for g in groups if g.parent_id is None]
        search = self.param("search")
        if search:
            groups = [g for g in groups if search.lower() in (g.full_path + " " + g.name).lower()]
        self.send_json([group_json(g, self.ctx.base_url) for g in paginate(self, groups)])


def visible_group(handler: ApiHandler, ref: str, me) -> Group:
    group = handler.store.group_by_ref(unquote_ref(ref))
    if group is None or not handler.store.can_see_group(group, me):
        raise not_found("Group")
    return group


class GroupHandler(ApiHandler):
    def get(self, ref):
        me = self.authenticate()
        group = visible_group(self, ref, me)
        data = group_json(group, self.ctx.base_url)
        from .api_projects import project_json  # cycle-free: projects import nothing from here

        data["projects"] = [
            project_json(self, p, me)
            for p in self.store.projects.values()
            if p.namespace == group.full_path and self.store.can_see_project(p, me)
        ]
        self.send_json(data)


class SubgroupsHandler(ApiHandler):
    def get(self, ref):
        me = self.authenticate()
        group = visible_group(self, ref, me)
        subs = [g for g in self.store.groups.values() if g.parent_id == group.id and self.store.can_see_group(g, me)]
        self.send_json([group_json(g, self.ctx.base_url) for g in paginate(self, subs)])


class GroupProjectsHandler(ApiHandler):
    def get(self, ref):
        me = self.authenticate()
        group = visible_group(self, ref, me)
        from .api_projects import project_json

        inside = [
            p
            for p in sorted(self.store.projects.values(), key=lambda p: p.id)
            if (
                p.namespace == group.full_path
                or (self.flag("include_subgroups") and p.namespace.startswith(group.full_path + "/"))
            )
            and self.store.can_see_project(p, me)
        ]
        self.send_json([project_json(self, p, me) for p in paginate(self, inside)])


def routes() -> list:
    p = r"/api/v4/groups"
    return [
        (p, GroupsHandler),
        (p + r"/([^/]+)", GroupHandler),
        (p + r"/([^/]+)/subgroups", SubgroupsHandler),
        (p + r"/([^/]+)/projects", GroupProjectsHandler),
    ]
