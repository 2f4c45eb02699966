"""Per-MR sub-resources: approvals, notes, commits, changes, diffs and participants."""

from __future__ import annotations

from .api_branches import commit_json
from .api_merge_requests import find_mr, mr_json
from .base import ApiError, ApiHandler, not_found, user_basic
from .model import DEVELOPER, MergeRequest, Note, Project, User, add_note
from .mr_state import facts
from .pagination import paginate

UNAUTHORIZED = {"message": "401 Unauthorized"}


def note_json(handler: ApiHandler, project: Project, mr: MergeRequest, note: Note) -> dict:
    author = handler.store.users[note.author_id]
    return {
        "id": note.id,
        "type": None,
        "body": note.body,
        "attachment": None,
        "author": user_basic(author, handler.ctx.base_url),
        "created_at": note.created_at,
        "updated_at": note.created_at,
        "system": note.system,
        "noteable_id": mr.id,
        "noteable_type": "MergeRequest",
        "noteable_iid": mr.iid,
        "project_id": project.id,
        "resolvable": False,
        "confidential": False,
        "internal": False,
        "imported": False,
        "imported_from": "none",
        "commands_changes": {},
    }


def approvals_json(handler: ApiHandler, project: Project, mr: MergeRequest, me: User) -> dict:
    base = handler.ctx.base_url
    return {
        "id": mr.id,
        "iid": mr.iid,
        "project_id": project.id,
        "title": mr.title,
        "description": mr.description,
        "state": mr.state,
        "created_at": mr.created_at,
        "updated_at": mr.updated_at,
        "merge_status": "can_be_merged",
        "approved": bool(mr.approved_by),
        "approvals_required": 0,
        "approvals_left": 0,
        "require_password_to_approve": False,
        "approved_by": [{"user": user_basic(handler.store.users[u], base)} for u in mr.approved_by],
        "suggested_approvers": [],
        "approvers": [],
        "approver_groups": [],
        "user_has_approved": me.id in mr.approved_by,
        "user_can_approve": can_approve(handler, project, mr, me),
        "approval_rules_left": [],
        "has_approval_rules": False,
        "merge_request_approvers_available": False,
        "multiple_approval_rules_available": False,
        "invalid_approvers_rules": [],
    }


def can_approve(handler: ApiHandler, project: Project, mr: MergeRequest, me: User) -> bool:
    return (
        mr.state == "opened"
        and me.id != mr.author_id
        and me.id not in mr.approved_by
        and handler.store.project_access(project, me) >= DEVELOPER
    )


class ApprovalsHandler(ApiHandler):
    def get(self, ref, iid):
        me = self.authenticate()
        project = self.project(ref, me)
        self.send_json(approvals_json(self, project, find_mr(project, iid), me))


class ApproveHandler(ApiHandler):
    async def post(self, ref, iid, action):
        me = self.authenticate()
        project = self.project(ref, me)
        mr = find_mr(project, iid)
        if action == "approve":
            head = (await facts(self.ctx.repos, project, mr)).head_sha
            if self.param("sha") and self.param("sha") != head:
                raise ApiError(409, {"message": "SHA does not match HEAD of source branch: " + str(head)})
            if not can_approve(self, project, mr, me):
                raise ApiError(401, UNAUTHORIZED)
            mr.approved_by.append(me.id)
            add_note(self.store, mr, me, "approved this merge request", system=True)
        else:
            if me.id not in mr.approved_by:
                raise not_found()
            mr.approved_by.remove(me.id)
            add_note(self.store, mr, me, "unapproved this merge request", system=True)
        self.send_json(approvals_json(self, project, mr, me), 201)


class NotesHandler(ApiHandler):
    def get(self, ref, iid):
        me = self.authenticate()
        project = self.project(ref, me)
        mr = find_mr(project, iid)
        notes = sorted(mr.notes, key=lambda n: (n.created_at, n.id), reverse=self.param("sort", "desc") == "desc")
        self.send_json([note_json(self, project, mr, n) for n in paginate(self, notes)])

    def post(self, ref, iid):
        me = self.authenticate()
        project = self.project(ref, me)
        mr = find_mr(project, iid)
        body = self.param("body", required=True)
        note = add_note(self.store, mr, me, str(body))
        self.send_json(note_json(self, project, mr, note), 201)


class NoteHandler(ApiHandler):
    def _find(self, ref, iid, note_id, me):
        project = self.project(ref, me)
        mr = find_mr(project, iid)
        note = next((n for n in mr.notes if str(n.id) == note_id), None)
        if note is None:
            raise not_found("Note")
        return project, mr, note

    def get(self, ref, iid, note_id):
        me = self.authenticate()
        project, mr, note = self._find(ref, iid, note_id, me)
        self.send_json(note_json(self, project, mr, note))

    def put(self, ref, iid, note_id):
        me = self.authenticate()
        project, mr, note = self._find(ref, iid, note_id, me)
        if note.author_id != me.id or note.system:
            raise ApiError(403, {"message": "403 Forbidden"})
        note.body = str(self.param("body", required=True))
        self.send_json(note_json(self, project, mr, note))

    def delete(self, ref, iid, note_id):
        me = self.authenticate()
        project, mr, note = self._find(ref, iid, note_id, me)
        if note.author_id != me.id and not me.is_admin:
            raise ApiError(403, {"message": "403 Forbidden"})
        mr.notes.remove(note)
        self.set_status(204)
        self.finish()


class MrRepoHandler(ApiHandler):
    """commits, changes, diffs and participants of one MR."""

    async def get(self, ref, iid, what):
        me = self.authenticate()
        project = self.project(ref, me)
        mr = find_mr(project, iid)
        repos = self.ctx.repos
        f = await facts(repos, project, mr)
        if what == "participants":
            ids = [mr.author_id] + [n.author_id for n in mr.notes] + mr.approved_by
            unique = list(dict.fromkeys(ids))
            return self.send_json([user_basic(self.store.users[u], self.ctx.base_url) for u in unique])
        if f.head_sha is None or f.base_sha is None:
            diffs, commits = [], []
        else:
            diffs = await repos.diffs(project.id, f.base_sha, f.head_sha)
            commits = await repos.log(project.id, [f"{f.base_sha}..{f.head_sha}"])
        if what == "commits":
            return self.send_json([commit_json(c, self.ctx.base_url, project) for c in paginate(self, commits)])
        if what == "diffs":
            return self.send_json(paginate(self, diffs))
        data = await mr_json(self, project, mr, me)
        data.update({"changes": diffs, "overflow": False})
        self.send_json(data)


class CommitMergeRequestsHandler(ApiHandler):
    """GET /repository/commits/:sha/merge_requests: MRs that brought in (or are at) that commit."""

    async def get(self, ref, sha):
        me = self.authenticate()
        project = self.project(ref, me)
        repos = self.ctx.repos
        resolved = await repos.resolve(project.id, sha)
        if resolved is None:
            raise not_found("Commit")
        branches = await repos.branches(project.id)
        found = []
        for mr in project.merge_requests:
            f = await facts(repos, project, mr, branches)
            if resolved in (mr.merge_commit_sha, mr.squash_commit_sha, f.head_sha) or (
                f.head_sha
                and f.base_sha
                and resolved != f.base_sha
                and await repos.is_ancestor(project.id, resolved, f.head_sha)
                and not await repos.is_ancestor(project.id, resolved, f.base_sha)
            ):
                found.append(mr)
        self.send_json([await mr_json(self, project, m, me, branches=branches) for m in paginate(self, found)])


def routes() -> list:
    p = r"/api/v4/projects/([^/]+)/merge_requests/(\d+)"
    return [
        (p + r"/approvals", ApprovalsHandler),
        (p + r"/(approve|unapprove)", ApproveHandler),
        (p + r"/notes", NotesHandler),
        (p + r"/notes/(\d+)", NoteHandler),
        (p + r"/(commits|changes|diffs|participants)", MrRepoHandler),
        (r"/api/v4/projects/([^/]+)/repository/commits/([^/]+)/merge_requests", CommitMergeRequestsHandler),
    ]
