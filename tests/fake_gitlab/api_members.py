"""Members of groups and projects: list, list all (inherited), get, add, change, remove.

``DELETE /groups/:id/members/:user_id`` is how tests take a user out of a group while the hub runs.
"""

from __future__ import annotations

from .api_groups import visible_group
from .base import ApiError, ApiHandler, forbidden, not_found, user_basic
from .model import MAINTAINER, OWNER, now_iso
from .pagination import paginate

VALID_LEVELS = (0, 5, 10, 20, 30, 40, 50)


class MembersHandler(ApiHandler):
    """Routes: /(groups|projects)/:id/members[/all][/:user_id]."""

    def _target(self, kind: str, ref: str, me):
        if kind == "groups":
            group = visible_group(self, ref, me)
            return group, group.members, lambda: self.store.group_members_all(group), self.store.group_access(group, me)
        project = self.project(ref, me)
        return (
            project,
            project.members,
            lambda: self.store.project_members_all(project),
            self.store.project_access(project, me),
        )

    def _member(self, uid: int, level: int) -> dict:
        user = self.store.users[uid]
        data = user_basic(user, self.ctx.base_url)
        data.update({"access_level": level, "created_at": now_iso(), "expires_at": None, "membership_state": "active"})
        return data

    def get(self, kind, ref, all_, uid):
        me = self.authenticate()
        _, direct, everyone, _ = self._target(kind, ref, me)
        members = everyone() if all_ else dict(direct)
        if uid is not None:
            if not uid.isdigit() or int(uid) not in members or int(uid) not in self.store.users:
                raise not_found()
            return self.send_json(self._member(int(uid), members[int(uid)]))
        rows = sorted(members.items())
        query = self.param("query")
        if query:
            rows = [(u, lvl) for u, lvl in rows if query.lower() in self.store.users[u].username.lower()]
        self.send_json([self._member(u, lvl) for u, lvl in paginate(self, rows)])

    def _manage(self, kind, ref, me):
        target, direct, _, my_level = self._target(kind, ref, me)
        needed = OWNER if kind == "groups" else MAINTAINER
        if my_level < needed:
            raise forbidden()
        return direct

    def post(self, kind, ref, all_, uid):
        me = self.authenticate()
        if all_ or uid is not None:
            raise ApiError(405, {"message": "405 Method Not Allowed"})
        direct = self._manage(kind, ref, me)
        user_id = self.int_param("user_id", required=True)
        level = self.int_param("access_level", required=True)
        if user_id not in self.store.users:
            raise not_found("User")
        if level not in VALID_LEVELS:
            raise ApiError(400, {"error": "access_level does not have a valid value"})
        if user_id in direct:
            raise ApiError(409, {"message": "Member already exists"})
        direct[user_id] = level
        self.send_json(self._member(user_id, level), 201)

    def put(self, kind, ref, all_, uid):
        me = self.authenticate()
        direct = self._manage(kind, ref, me)
        if all_ or uid is None or not uid.isdigit() or int(uid) not in direct:
            raise not_found()
        level = self.int_param("access_level", required=True)
        if level not in VALID_LEVELS:
            raise ApiError(400, {"error": "access_level does not have a valid value"})
        direct[int(uid)] = level
        self.send_json(self._member(int(uid), level))

    def delete(self, kind, ref, all_, uid):
        me = self.authenticate()
        direct = self._manage(kind, ref, me)
        if all_ or uid is None or not uid.isdigit() or int(uid) not in direct:
            raise not_found()
        del direct[int(uid)]
        self.set_status(204)
        self.finish()


def routes() -> list:
    return [(r"/api/v4/(groups|projects)/([^/]+)/members(/all)?(?:/([^/]+))?", MembersHandler)]
