"""In-memory records of the stand-in: users, groups, projects, applications, merge requests.

Plain dataclasses plus the pure permission rules (effective access level through nested groups).
Branches, commits and tags are NOT stored here: they are the real refs of the bare repositories
(see repos.py).
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass, field

GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER, ADMIN = 10, 20, 30, 40, 50, 60
ACCESS_NAMES = {
    0: "No access",
    10: "Guest",
    20: "Reporter",
    30: "Developers + Maintainers",
    40: "Maintainers",
    50: "Owner",
    60: "Admin",
}


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class User:
    id: int
    username: str
    name: str
    email: str
    password: str
    is_admin: bool = False
    state: str = "active"
    created_at: str = field(default_factory=now_iso)


@dataclass
class Group:
    id: int
    full_path: str
    name: str
    parent_id: int | None
    members: dict[int, int] = field(default_factory=dict)  # user id -> access level
    created_at: str = field(default_factory=now_iso)

    @property
    def path(self) -> str:
        return self.full_path.rsplit("/", 1)[-1]


@dataclass
class ProtectedBranch:
    id: int
    name: str
    push_access_level: int = MAINTAINER
    merge_access_level: int = MAINTAINER
    unprotect_access_level: int = MAINTAINER
    allow_force_push: bool = False


@dataclass
class Note:
    id: int
    body: str
    author_id: int
    created_at: str
    system: bool = False


@dataclass
class MergeRequest:
    id: int
    iid: int
    project_id: int
    title: str
    description: str
    source_branch: str
    target_branch: str
    author_id: int
    state: str = "opened"  # opened | closed | merged
    labels: list[str] = field(default_factory=list)
    assignee_ids: list[int] = field(default_factory=list)
    reviewer_ids: list[int] = field(default_factory=list)
    remove_source_branch: bool = False
    squash: bool = False
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    merged_at: str | None = None
    closed_at: str | None = None
    merged_by_id: int | None = None
    closed_by_id: int | None = None
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None
    # Frozen once merged/closed; while open the heads come from the live refs.
    frozen_head_sha: str | None = None
    frozen_base_sha: str | None = None
    approved_by: list[int] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def draft(self) -> bool:
        t = self.title.lower()
        return t.startswith(("draft:", "[draft]", "(draft)", "wip:", "[wip]"))


@dataclass
class CommitStatus:
    """An external job on a commit (``POST /projects/:id/statuses/:sha``), as GitLab keeps a
    ``GenericCommitStatus``: one record moves pending -> running -> success/failed/canceled; a
    new one (with the same name) is made once that record finished, and the old one is retried."""

    id: int
    sha: str
    ref: str
    name: str
    pipeline_id: int
    author_id: int
    status: str = "created"
    target_url: str | None = None
    description: str | None = None
    coverage: float | None = None
    created_at: str = field(default_factory=now_iso)
    started_at: str | None = None
    finished_at: str | None = None
    retried: bool = False


def add_note(store: Store, mr: MergeRequest, author: User, body: str, system: bool = False) -> Note:
    note = Note(store.next_id(), body, author.id, now_iso(), system)
    mr.notes.append(note)
    mr.updated_at = note.created_at
    return note


@dataclass
class Project:
    id: int
    namespace: str  # full path of the group or user namespace
    path: str
    name: str
    default_branch: str = "main"
    description: str = ""
    visibility: str = "private"
    merge_method: str = "merge"  # merge | ff | rebase_merge
    members: dict[int, int] = field(default_factory=dict)
    protected: dict[str, ProtectedBranch] = field(default_factory=dict)
    merge_requests: list[MergeRequest] = field(default_factory=list)
    statuses: list[CommitStatus] = field(default_factory=list)
    pipelines: dict[tuple[str, str], int] = field(default_factory=dict)  # (sha, ref) -> external pipeline id
    created_at: str = field(default_factory=now_iso)

    @property
    def full_path(self) -> str:
        return f"{self.namespace}/{self.path}"


@dataclass
class Application:
    id: int
    name: str
    uid: str
    secret: str
    redirect_uris: list[str]
    scopes: list[str]
    trusted: bool = False
    confidential: bool = True


class Store:
    """Every record of the running server, with the lookups and access rules the handlers share."""

    def __init__(self):
        self.users: dict[int, User] = {}
        self.groups: dict[int, Group] = {}
        self.projects: dict[int, Project] = {}
        self.applications: dict[str, Application] = {}  # by uid
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        # One counter shared by every kind of record: ids are unique and increasing; unlike GitLab
        # there are gaps between the ids of one kind, which no client relies on.
        return next(self._ids)

    # -- lookups ---------------------------------------------------------------------------
    def user_by_name(self, username: str) -> User | None:
        return next((u for u in self.users.values() if u.username.lower() == username.lower()), None)

    def group_by_ref(self, ref: str) -> Group | None:
        if ref.isdigit():
            return self.groups.get(int(ref))
        return next((g for g in self.groups.values() if g.full_path.lower() == ref.lower()), None)

    def project_by_ref(self, ref: str) -> Project | None:
        if ref.isdigit():
            return self.projects.get(int(ref))
        return next((p for p in self.projects.values() if p.full_path.lower() == ref.lower()), None)

    def ancestors(self, group: Group) -> list[Group]:
        """The group itself first, then its parents up to the top level."""
        chain, g = [], group
        while g is not None and len(chain) < 50:
            chain.append(g)
            g = self.groups.get(g.parent_id) if g.parent_id else None
        return chain

    def namespace_group(self, project: Project) -> Group | None:
        return self.group_by_ref(project.namespace)

    # -- access rules ----------------------------------------------------------------------
    def group_members_all(self, group: Group) -> dict[int, int]:
        """Direct and inherited members with their highest level (GitLab's members/all)."""
        out: dict[int, int] = {}
        for g in reversed(self.ancestors(group)):
            for uid, level in g.members.items():
                out[uid] = max(out.get(uid, 0), level)
        return out

    def project_members_all(self, project: Project) -> dict[int, int]:
        out: dict[int, int] = {}
        group = self.namespace_group(project)
        if group is not None:
            out.update(self.group_members_all(group))
        else:  # a personal namespace: its owner is the project owner
            owner = self.user_by_name(project.namespace)
            if owner is not None:
                out[owner.id] = OWNER
        for uid, level in project.members.items():
            out[uid] = max(out.get(uid, 0), level)
        return out

    def project_access(self, project: Project, user: User) -> int:
        level = self.project_members_all(project).get(user.id, 0)
        return max(level, ADMIN) if user.is_admin else level

    def group_access(self, group: Group, user: User) -> int:
        level = self.group_members_all(group).get(user.id, 0)
        return max(level, ADMIN) if user.is_admin else level

    def groups_with_min_access_level(self, user: User, level: int) -> list[Group]:
        """``GET /groups?min_access_level=``: direct memberships with at least ``level``, and
        every descendant of them (self_and_descendants), sorted by full path."""
        direct = [g for g in self.groups.values() if g.members.get(user.id, 0) >= level]
        return sorted(
            (g for g in self.groups.values() if any(d in self.ancestors(g) for d in direct)), key=lambda g: g.full_path
        )

    def can_see_project(self, project: Project, user: User) -> bool:
        return project.visibility != "private" or self.project_access(project, user) >= GUEST

    def can_see_group(self, group: Group, user: User) -> bool:
        if user.is_admin or self.group_access(group, user) >= GUEST:
            return True
        # Members of a subgroup or project below can see the parent group.
        for g in self.groups.values():
            if group in self.ancestors(g) and g.members.get(user.id):
                return True
        return any(
            p.members.get(user.id)
            and self.group_by_ref(p.namespace) is not None
            and group in self.ancestors(self.group_by_ref(p.namespace))
            for p in self.projects.values()
        )

    def can_push(self, project: Project, user: User, branch: str) -> tuple[bool, str]:
        """May ``user`` update ``branch``? Returns (allowed, reason shown to git/API clients)."""
        level = self.project_access(project, user)
        if level < DEVELOPER:
            return False, "You are not allowed to push code to this project."
        rule = project.protected.get(branch)
        if rule is not None and (rule.push_access_level == 0 or level < rule.push_access_level):
            return False, "You are not allowed to push code to protected branches on this project."
        return True, ""

    def can_merge(self, project: Project, user: User, target_branch: str) -> bool:
        level = self.project_access(project, user)
        rule = project.protected.get(target_branch)
        needed = rule.merge_access_level if rule is not None else DEVELOPER
        return level >= max(needed, DEVELOPER) and needed != 0
