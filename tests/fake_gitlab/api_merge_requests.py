"""Merge requests: create (409 duplicate with an array message), list with filters, get, update, merge."""

from __future__ import annotations

import datetime

from .base import ApiError, ApiHandler, not_found, user_basic
from .model import DEVELOPER, MergeRequest, Project, User, add_note, now_iso
from .mr_state import MergeRefused, detailed_status, facts, merge
from .pagination import paginate

ORDERABLE = {"created_at", "updated_at", "title", "merged_at"}


def find_mr(project: Project, iid: str) -> MergeRequest:
    mr = next((m for m in project.merge_requests if str(m.iid) == iid), None)
    if mr is None:
        raise not_found("Merge Request")
    return mr


async def mr_json(
    handler: ApiHandler,
    project: Project,
    mr: MergeRequest,
    me: User,
    simple: bool = False,
    branches: dict | None = None,
) -> dict:
    base, store = handler.ctx.base_url, handler.store
    web_url = f"{base}/{project.full_path}/-/merge_requests/{mr.iid}"
    data = {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": project.id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "web_url": web_url,
    }
    if simple:
        return data
    f = await facts(handler.ctx.repos, project, mr, branches)
    person = lambda uid: user_basic(store.users[uid], base) if uid in store.users else None  # noqa: E731
    status = detailed_status(mr, f)
    data.update(
        {
            "merged_by": person(mr.merged_by_id),
            "merge_user": person(mr.merged_by_id),
            "merged_at": mr.merged_at,
            "closed_by": person(mr.closed_by_id),
            "closed_at": mr.closed_at,
            "target_branch": mr.target_branch,
            "source_branch": mr.source_branch,
            "user_notes_count": sum(1 for n in mr.notes if not n.system),
            "upvotes": 0,
            "downvotes": 0,
            "author": person(mr.author_id),
            "assignees": [person(u) for u in mr.assignee_ids],
            "assignee": person(mr.assignee_ids[0]) if mr.assignee_ids else None,
            "reviewers": [person(u) for u in mr.reviewer_ids],
            "source_project_id": project.id,
            "target_project_id": project.id,
            "labels": list(mr.labels),
            "draft": mr.draft,
            "work_in_progress": mr.draft,
            "milestone": None,
            "merge_when_pipeline_succeeds": False,
            "merge_status": "cannot_be_merged" if f.has_conflicts else "can_be_merged",
            "detailed_merge_status": status,
            "sha": f.head_sha,
            "merge_commit_sha": mr.merge_commit_sha,
            "squash_commit_sha": mr.squash_commit_sha,
            "discussion_locked": None,
            "should_remove_source_branch": mr.remove_source_branch or None,
            "force_remove_source_branch": mr.remove_source_branch,
            "prepared_at": mr.created_at,
            "reference": f"!{mr.iid}",
            "references": {"short": f"!{mr.iid}", "relative": f"!{mr.iid}", "full": f"{project.full_path}!{mr.iid}"},
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": None,
                "human_total_time_spent": None,
            },
            "squash": mr.squash,
            "squash_on_merge": mr.squash,
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_conflicts": f.has_conflicts,
            "blocking_discussions_resolved": True,
            "approvals_before_merge": None,
            "subscribed": True,
            "changes_count": str(f.changes_count),
            "latest_build_started_at": None,
            "latest_build_finished_at": None,
            "first_deployed_to_production_at": None,
            "pipeline": None,
            "head_pipeline": None,
            "diff_refs": {"base_sha": f.base_sha, "head_sha": f.head_sha, "start_sha": f.target_sha},
            "merge_error": None,
            "first_contribution": False,
            "diverged_commits_count": 0,
            "rebase_in_progress": False,
            "user": {"can_merge": store.can_merge(project, me, mr.target_branch)},
        }
    )
    return data


def iso_time(value: str, name: str) -> datetime.datetime:
    """An ISO 8601 time parameter (``2024-03-01T12:00:00Z``) as an aware datetime; 400 otherwise."""
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, {"error": f"{name} is invalid"}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def duplicate_of(project: Project, source: str, target: str, exclude: int | None = None) -> MergeRequest | None:
    return next(
        (
            m
            for m in project.merge_requests
            if m.state == "opened" and m.source_branch == source and m.target_branch == target and m.id != exclude
        ),
        None,
    )


class MergeRequestsHandler(ApiHandler):
    async def get(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        mrs = list(project.merge_requests)
        state = self.param("state", "all")
        if state != "all":
            mrs = [m for m in mrs if m.state == state]
        for name in ("source_branch", "target_branch"):
            if self.param(name):
                mrs = [m for m in mrs if getattr(m, name) == self.param(name)]
        iids = self.list_param("iids")
        if iids:
            mrs = [m for m in mrs if str(m.iid) in iids]
        labels = self.list_param("labels")
        if labels:
            mrs = [m for m in mrs if set(labels) <= set(m.labels)]
        for name, attr in (("author_id", "author_id"),):
            if self.param(name):
                mrs = [m for m in mrs if str(getattr(m, attr)) == str(self.param(name))]
        if self.param("author_username"):
            author = self.store.user_by_name(self.param("author_username"))
            mrs = [m for m in mrs if author and m.author_id == author.id]
        if self.param("reviewer_id"):
            mrs = [m for m in mrs if int(self.param("reviewer_id")) in m.reviewer_ids]
        if self.param("assignee_id"):
            mrs = [m for m in mrs if int(self.param("assignee_id")) in m.assignee_ids]
        for name, keep in (
            ("updated_after", lambda t, at: t >= at),
            ("updated_before", lambda t, at: t <= at),
            ("created_after", lambda t, at: t >= at),
            ("created_before", lambda t, at: t <= at),
        ):
            if self.param(name):
                at = iso_time(self.param(name), name)
                field_name = name.split("_")[0] + "_at"
                mrs = [m for m in mrs if keep(iso_time(getattr(m, field_name), field_name), at)]
        search = self.param("search")
        if search:
            mrs = [m for m in mrs if search.lower() in (m.title + "\n" + m.description).lower()]
        if self.param("draft") is not None or self.param("wip") is not None:
            want = self.flag("draft") or self.param("wip") == "yes"
            mrs = [m for m in mrs if m.draft == want]
        order = self.param("order_by", "created_at")
        if order not in ORDERABLE:
            raise ApiError(400, {"error": "order_by does not have a valid value"})
        mrs.sort(key=lambda m: (getattr(m, order) or "", m.id), reverse=self.param("sort", "desc") == "desc")
        simple = self.param("view") == "simple"
        page = paginate(self, mrs)
        branches = None if simple else await self.ctx.repos.branches(project.id)
        self.send_json([await mr_json(self, project, m, me, simple, branches) for m in page])

    async def post(self, ref):
        me = self.authenticate()
        project = self.project(ref, me)
        absent = [n for n in ("source_branch", "target_branch", "title") if self.param(n) is None]
        if absent:
            raise ApiError(400, {"error": ", ".join(f"{n} is missing" for n in absent)})
        self.require_access(project, me, DEVELOPER)
        source, target = self.param("source_branch"), self.param("target_branch")
        if self.param("target_project_id") not in (None, project.id, str(project.id)):
            raise ApiError(422, {"message": ["Forks are not supported by the GitLab stand-in"]})
        if source == target:
            raise ApiError(422, {"message": ["You can't use same project/branch for source and target"]})
        branches = await self.ctx.repos.branches(project.id)
        missing = [
            f'{kind} branch "{name}" does not exist'
            for kind, name in (("Source", source), ("Target", target))
            if name not in branches
        ]
        if missing:
            raise ApiError(409, {"message": missing})
        duplicate = duplicate_of(project, source, target)
        if duplicate is not None:
            raise ApiError(
                409,
                {"message": [f"Another open merge request already exists for this source branch: !{duplicate.iid}"]},
            )
        mr = MergeRequest(
            self.store.next_id(),
            1 + max((m.iid for m in project.merge_requests), default=0),
            project.id,
            self.param("title"),
            self.param("description", ""),
            source,
            target,
            me.id,
            labels=self.list_param("labels") or [],
            assignee_ids=self._ids("assignee_ids", "assignee_id"),
            reviewer_ids=self._ids("reviewer_ids"),
            remove_source_branch=self.flag("remove_source_branch"),
            squash=self.flag("squash"),
        )
        project.merge_requests.append(mr)
        self.send_json(await mr_json(self, project, mr, me), 201)

    def _ids(self, *names) -> list[int]:
        for name in names:
            value = self.params.get(name)
            if value not in (None, ""):
                values = value if isinstance(value, list) else str(value).split(",")
                return [int(v) for v in values if str(v).strip().isdigit() and int(v) in self.store.users]
        return []


class MergeRequestHandler(MergeRequestsHandler):
    async def get(self, ref, iid):
        me = self.authenticate()
        project = self.project(ref, me)
        self.send_json(await mr_json(self, project, find_mr(project, iid), me))

    async def put(self, ref, iid):
        me = self.authenticate()
        project = self.project(ref, me)
        mr = find_mr(project, iid)
        if self.store.project_access(project, me) < DEVELOPER and me.id != mr.author_id:
            raise ApiError(403, {"message": "403 Forbidden"})
        for name in ("title", "description", "target_branch"):
            if self.param(name) is not None:
                setattr(mr, name, self.param(name))
        if self.params.get("labels") is not None:
            mr.labels = self.list_param("labels") or []
        for name in ("add_labels", "remove_labels"):
            for label in self.list_param(name) or []:
                if name == "add_labels" and label not in mr.labels:
                    mr.labels.append(label)
                elif name == "remove_labels" and label in mr.labels:
                    mr.labels.remove(label)
        if self.params.get("assignee_ids") is not None or self.params.get("assignee_id") is not None:
            mr.assignee_ids = self._ids("assignee_ids", "assignee_id")
        if self.params.get("reviewer_ids") is not None:
            mr.reviewer_ids = self._ids("reviewer_ids")
        for name in ("remove_source_branch", "squash"):
            if self.params.get(name) is not None:
                setattr(mr, name, self.flag(name))
        event = self.param("state_event")
        if event == "close" and mr.state == "opened":
            f = await facts(self.ctx.repos, project, mr)
            mr.state, mr.closed_at, mr.closed_by_id = "closed", now_iso(), me.id
            mr.frozen_head_sha, mr.frozen_base_sha = f.head_sha, f.base_sha
            add_note(self.store, mr, me, "closed", system=True)
        elif event == "reopen" and mr.state == "closed":
            if duplicate_of(project, mr.source_branch, mr.target_branch, exclude=mr.id):
                raise ApiError(409, {"message": ["Another open merge request already exists for this source branch"]})
            mr.state, mr.closed_at, mr.closed_by_id, mr.frozen_head_sha = "opened", None, None, None
            add_note(self.store, mr, me, "reopened", system=True)
        mr.updated_at = now_iso()
        self.send_json(await mr_json(self, project, mr, me))


class MergeHandler(ApiHandler):
    async def put(self, ref, iid):
        me = self.authenticate()
        project = self.project(ref, me)
        mr = find_mr(project, iid)
        if not self.store.can_merge(project, me, mr.target_branch):
            raise ApiError(401, {"message": "401 Unauthorized"})
        try:
            await merge(
                self.ctx.repos,
                project,
                mr,
                me,
                sha=self.param("sha"),
                message=self.param("merge_commit_message"),
                squash=self.flag("squash", mr.squash),
                squash_message=self.param("squash_commit_message"),
                remove_source=self.flag("should_remove_source_branch"),
            )
        except MergeRefused as refused:
            raise ApiError(refused.status, {"message": refused.message}) from None
        add_note(self.store, mr, me, "merged", system=True)
        self.send_json(await mr_json(self, project, mr, me))


def routes() -> list:
    p = r"/api/v4/projects/([^/]+)/merge_requests"
    return [(p, MergeRequestsHandler), (p + r"/(\d+)", MergeRequestHandler), (p + r"/(\d+)/merge", MergeHandler)]
