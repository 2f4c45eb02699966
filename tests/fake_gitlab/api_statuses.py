"""Commit statuses: ``POST /projects/:id/statuses/:sha`` and ``GET .../repository/commits/:sha/statuses``.

As GitLab's ``API::CommitStatuses`` does it: an external pipeline per (sha, ref) holds one
``GenericCommitStatus`` per name; a post finds the running or pending one of that name and ref
or starts a new one (``created``), then fires the state's event. An event the record's state
does not allow is GitLab's 400 "Cannot transition status via :run from :running (...)"; a new
record for a name whose last one finished marks that one retried (listed only with ``all``).
"""

from __future__ import annotations

from urllib.parse import urlparse

from .base import ApiError, ApiHandler, forbidden, missing, not_found, user_basic
from .model import DEVELOPER, REPORTER, CommitStatus, Project, now_iso
from .pagination import paginate

STATES = ("pending", "running", "success", "failed", "canceled")
# GitLab's CommitStatus state machine: event -> (states it leaves, state it reaches)
EVENTS = {
    "enqueue": ({"created", "skipped", "manual", "scheduled"}, "pending"),
    "run": ({"pending"}, "running"),
    "success": ({"created", "waiting_for_resource", "preparing", "pending", "running"}, "success"),
    "drop": ({"created", "waiting_for_resource", "preparing", "pending", "running", "manual", "scheduled"}, "failed"),
    "cancel": (
        {"created", "waiting_for_resource", "preparing", "pending", "running", "manual", "scheduled"},
        "canceled",
    ),
}
# what a posted state fires: (event, raises when the state does not allow it)
STATE_EVENTS = {
    "pending": [("enqueue", True)],
    "running": [("enqueue", False), ("run", True)],
    "success": [("success", True)],
    "failed": [("drop", True)],
    "canceled": [("cancel", True)],
}
FINISHED = {"success", "failed", "canceled", "skipped"}


def fire(status: CommitStatus, state: str) -> None:
    """Apply a posted ``state`` to ``status`` as GitLab's state machine does (ApiError 400 if refused)."""
    for event, strict in STATE_EVENTS[state]:
        leaves, reaches = EVENTS[event]
        if status.status not in leaves:
            if not strict:
                continue
            raise ApiError(
                400,
                {
                    "message": f"Cannot transition status via :{event} from :{status.status} "
                    f'(Reason(s): Status cannot transition via "{event}")'
                },
            )
        status.status = reaches
        if reaches == "running":
            status.started_at = now_iso()
        elif reaches in FINISHED:
            status.finished_at = now_iso()


def status_json(handler: ApiHandler, status: CommitStatus) -> dict:
    return {
        "id": status.id,
        "sha": status.sha,
        "ref": status.ref,
        "status": status.status,
        "name": status.name,
        "target_url": status.target_url,
        "description": status.description,
        "created_at": status.created_at,
        "started_at": status.started_at,
        "finished_at": status.finished_at,
        "allow_failure": False,
        "coverage": status.coverage,
        "pipeline_id": status.pipeline_id,
        "author": user_basic(handler.store.users[status.author_id], handler.ctx.base_url),
    }


def valid_target_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


class StatusPostHandler(ApiHandler):
    async def post(self, ref, sha):
        me = self.authenticate()
        state = self.param("state")  # Grape validates the parameters before the endpoint runs
        if state is None:
            raise missing("state")
        if state not in STATES:
            raise ApiError(400, {"error": "state does not have a valid value"})
        project = self.project(ref, me)
        if self.store.project_access(project, me) < DEVELOPER:  # :create_commit_status
            raise forbidden()
        repos = self.ctx.repos
        commit = await repos.resolve(project.id, sha)
        if commit is None:
            raise not_found("Commit")
        pipeline_ref = self._newest_pipeline_ref(project, commit)
        ref = self.param("ref") or pipeline_ref or next(iter(await repos.branches_containing(project.id, commit)), None)
        if ref is None:
            raise not_found("References for commit")
        if ref in project.protected and not (
            self.store.can_push(project, me, ref)[0] or self.store.can_merge(project, me, ref)
        ):
            raise forbidden()  # :update_pipeline of a protected ref
        name = self.param("name") or self.param("context") or "default"
        target_url = self.param("target_url")
        if target_url is not None:
            if not valid_target_url(str(target_url)):
                raise ApiError(400, {"message": {"target_url": ["is blocked: Only allowed schemes are http, https"]}})
            if len(str(target_url)) > 255:
                raise ApiError(400, {"message": {"target_url": ["is too long (maximum is 255 characters)"]}})
        pipeline_id = project.pipelines.setdefault((commit, ref), self.store.next_id())
        status = next(
            (
                s
                for s in project.statuses
                if s.pipeline_id == pipeline_id
                and s.name == name
                and s.ref == ref
                and s.status in ("running", "pending")
                and not s.retried
            ),
            None,
        )
        new = status is None
        if new:
            status = CommitStatus(self.store.next_id(), commit, ref, name, pipeline_id, me.id)
        for field_name in ("target_url", "description"):
            if self.param(field_name) is not None:
                setattr(status, field_name, str(self.param(field_name)))
        if self.param("coverage") is not None:
            try:
                status.coverage = float(self.param("coverage"))
            except (TypeError, ValueError):
                raise ApiError(400, {"error": "coverage is invalid"}) from None
        fire(status, state)  # refused: nothing was stored
        if new:
            for older in project.statuses:
                if older.pipeline_id == pipeline_id and older.name == name and older.ref == ref:
                    older.retried = True
            project.statuses.append(status)
        self.send_json(status_json(self, status), 201)

    @staticmethod
    def _newest_pipeline_ref(project: Project, sha: str) -> str | None:
        found = [(pid, ref) for (s, ref), pid in project.pipelines.items() if s == sha]
        return max(found)[1] if found else None


class StatusListHandler(ApiHandler):
    async def get(self, ref, sha):
        me = self.authenticate()
        project = self.project(ref, me)
        if self.store.project_access(project, me) < REPORTER and project.visibility != "public":
            raise forbidden()  # :read_commit_status
        commit = await self.ctx.repos.resolve(project.id, sha)
        if commit is None:
            raise not_found("Commit")
        order = self.param("order_by", "id")
        if order not in ("id", "pipeline_id"):
            raise ApiError(400, {"error": "order_by does not have a valid value"})
        sort = self.param("sort", "asc")
        if sort not in ("asc", "desc"):
            raise ApiError(400, {"error": "sort does not have a valid value"})
        found = [s for s in project.statuses if s.sha == commit and (self.flag("all") or not s.retried)]
        for name in ("ref", "name"):
            if self.param(name):
                found = [s for s in found if getattr(s, name) == self.param(name)]
        if self.param("stage") and self.param("stage") != "external":
            found = []
        if self.param("pipeline_id"):
            found = [s for s in found if str(s.pipeline_id) == str(self.param("pipeline_id"))]
        found.sort(key=lambda s: (getattr(s, order), s.id), reverse=sort == "desc")
        self.send_json([status_json(self, s) for s in paginate(self, found)])


def routes() -> list:
    return [
        (r"/api/v4/projects/([^/]+)/statuses/([^/]+)", StatusPostHandler),
        (r"/api/v4/projects/([^/]+)/repository/commits/([^/]+)/statuses", StatusListHandler),
    ]
