"""Merge-request facts computed from the real refs (head, base, conflicts, change count) and the
merge itself (merge commit, fast-forward or squash, done with git plumbing in the bare repo)."""

from __future__ import annotations

from dataclasses import dataclass

from .model import MergeRequest, Project, User, now_iso


@dataclass
class MrFacts:
    head_sha: str | None
    target_sha: str | None
    base_sha: str | None
    changes_count: int
    has_conflicts: bool
    commits_count: int


async def facts(repos, project: Project, mr: MergeRequest, branches: dict | None = None) -> MrFacts:
    """Live facts of an open MR; merged/closed MRs keep the shas frozen when they ended.
    ``branches`` (name -> sha) saves re-reading the refs when listing many MRs."""
    if mr.state != "opened" and mr.frozen_head_sha:
        head, base = mr.frozen_head_sha, mr.frozen_base_sha
        target = base
    else:
        branches = branches if branches is not None else await repos.branches(project.id)
        head, target = branches.get(mr.source_branch), branches.get(mr.target_branch)
        base = None
    if head is None or target is None:
        return MrFacts(head, target, base, 0, False, 0)
    cache = repos.__dict__.setdefault("fact_cache", {})
    key = (project.id, head, target, mr.state)
    if key not in cache:
        base = base or await repos.merge_base(project.id, target, head) or target
        diffs = await repos.diffs(project.id, base, head)
        conflicts = False
        if mr.state == "opened" and not await repos.is_ancestor(project.id, head, target):
            conflicts = await repos.merge_tree(project.id, target, head) is None
        count = await repos.count(project.id, f"{base}..{head}")
        cache[key] = MrFacts(head, target, base, len(diffs), conflicts, count)
    return cache[key]


def touch_moved(project: Project, before: dict, after: dict) -> None:
    """New commits on a branch update its open merge requests (GitLab's RefreshService), so a
    listing with ``updated_after`` finds them."""
    moved = {b for b in set(before) | set(after) if before.get(b) != after.get(b)}
    for mr in project.merge_requests:
        if mr.state == "opened" and mr.source_branch in moved:
            mr.updated_at = now_iso()


def detailed_status(mr: MergeRequest, f: MrFacts) -> str:
    if mr.state != "opened":
        return "not_open"
    if mr.draft:
        return "draft_status"
    if f.head_sha is None or f.target_sha is None:
        return "broken_status"
    if f.has_conflicts:
        return "conflict"
    return "mergeable"


class MergeRefused(Exception):
    """A merge GitLab would refuse: HTTP status and message."""

    def __init__(self, status: int, message):
        super().__init__(message)
        self.status, self.message = status, message


def default_message(project: Project, mr: MergeRequest) -> str:
    text = f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\n{mr.title}"
    if mr.description:
        text += f"\n\n{mr.description}"
    return text + f"\n\nSee merge request {project.full_path}!{mr.iid}"


async def merge(
    repos,
    project: Project,
    mr: MergeRequest,
    user: User,
    *,
    sha: str | None = None,
    message: str | None = None,
    squash: bool = False,
    squash_message: str | None = None,
    remove_source: bool = False,
) -> None:
    """Merge ``mr`` into its target branch for real, or raise MergeRefused (405/409/422)."""
    if mr.state != "opened" or mr.draft:
        raise MergeRefused(405, "405 Method Not Allowed")
    async with repos.lock(project.id):
        branches = await repos.branches(project.id)
        head, target = branches.get(mr.source_branch), branches.get(mr.target_branch)
        if head is None or target is None:
            raise MergeRefused(422, "Branch cannot be merged")
        if sha and sha != head:
            raise MergeRefused(409, "SHA does not match HEAD of source branch: " + head)
        base = await repos.merge_base(project.id, target, head) or target
        squash_sha = None
        if squash:
            tree = (await repos.git(project.id, "rev-parse", f"{head}^{{tree}}")).decode().strip()
            squash_sha = await repos.commit_tree(
                project.id, tree, [base], squash_message or mr.title, user.name, user.email
            )
            head_for_merge = squash_sha
        else:
            head_for_merge = head
        if project.merge_method == "ff":
            if not await repos.is_ancestor(project.id, target, head_for_merge):
                raise MergeRefused(422, "Branch cannot be merged")
            new_target, merge_sha = head_for_merge, None
        else:
            tree = await repos.merge_tree(project.id, target, head_for_merge)
            if tree is None:
                raise MergeRefused(422, "Branch cannot be merged")
            merge_sha = await repos.commit_tree(
                project.id,
                tree,
                [target, head_for_merge],
                message or default_message(project, mr),
                user.name,
                user.email,
            )
            new_target = merge_sha
        await repos.update_ref(project.id, f"refs/heads/{mr.target_branch}", new_target, target)
        if (remove_source or mr.remove_source_branch) and mr.source_branch not in project.protected:
            await repos.delete_ref(project.id, f"refs/heads/{mr.source_branch}")
    mr.state, mr.merged_at, mr.updated_at, mr.merged_by_id = "merged", now_iso(), now_iso(), user.id
    mr.merge_commit_sha, mr.squash_commit_sha = merge_sha, squash_sha
    mr.frozen_head_sha, mr.frozen_base_sha = head, base
