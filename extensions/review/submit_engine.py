"""The git side of a submit, kept off the user's wait: a speculative fetch and a leased push.

``ReviewService`` (the request side) asks this engine for three things:

* :meth:`SubmitEngine.prefetch`: ``review/check``, which the dialog calls when it opens, fetches
  the target and review branches right then, so the submit that follows starts from those refs;
* :meth:`SubmitEngine.review_refs`: a submit's (target sha, review branch sha), from that
  prefetch when it is fresh, else from a fetch started now (beside the gates);
* :meth:`SubmitEngine.commit_and_push`: the review commit, built as git objects and pushed with
  ``--force-with-lease`` to the user's review branch: before the fetch answers when the working
  copy's remote-tracking refs already know the branch (the lease proves it), then checked
  against the fetch and rebuilt when the base should differ.

One fetch at a time per working copy; everything blocking runs through ``blocking`` (the
extension's thread pool).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref

from .commit_plan import CommitPlan
from .errors import KEPT, ReviewError
from .gitops import Git, GitFailure
from .lru import LRU
from .paths import NotebookLocation

PREFETCH_MAX_AGE = 60.0  # seconds a check's fetch may serve the submit that follows it


class Background:
    """Starts the tasks a request leaves running beside it (a fetch, a summary, a lookup) and
    keeps them until they end: a failure nobody waits for any more (the gates failed while the
    fetch ran) is never reported as 'never retrieved', and :meth:`cancel_all` ends them all
    when the server stops."""

    def __init__(self):
        self._tasks: set[asyncio.Future] = set()

    def __call__(self, awaitable) -> asyncio.Future:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task):
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()

    async def cancel_all(self):
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Once:
    """``fn()`` called at most once, from any thread; later calls get its result (or its error).
    One submit asks the hub for the GitLab token once, for its fetch, push and merge request."""

    def __init__(self, fn):
        self._fn, self._lock, self._result = fn, threading.Lock(), None

    def __call__(self):
        with self._lock:
            if self._result is None:
                try:
                    self._result = (True, self._fn())
                except Exception as e:
                    self._result = (False, e)
        ok, value = self._result
        if not ok:
            raise value
        return value


# GitFailure.kind -> what a failed submit says (GitFailure.message says what git said)
GIT_FAILURES = {
    "token": "{message}; reload JupyterLab (or log in to the hub again), then submit again; {kept}",
    "auth": "GitLab refused the git credentials; your session may have expired: reload JupyterLab (or log in to "
    "the hub again), then submit again; {kept} ({message})",
    "unreachable": "GitLab ({gitlab_url}) is not reachable for git; {kept}, try again in a minute ({message})",
    "rejected": "GitLab rejected the push: {message}; {kept}. Ask a project maintainer if you should have push access",
    "other": "git failed: {message}; {kept}, try again",
}


def git_error(e: GitFailure, gitlab_url: str) -> ReviewError:
    template = GIT_FAILURES.get(e.kind, GIT_FAILURES["other"])
    return ReviewError(502, template.format(message=e.message, gitlab_url=gitlab_url, kept=KEPT))


def nothing_new(script_path: str, target: str) -> ReviewError:
    return ReviewError(
        400,
        f"nothing to submit: {script_path} is the same as on '{target}'; edit the notebook, save, then submit again",
    )


class SubmitEngine:
    def __init__(self, settings, *, blocking, background: Background, open_git, log, max_working_copies: int = 32):
        self.settings = settings  # ReviewConfig, read at each use (token source, GitLab URL)
        self.blocking = blocking  # (fn, *args, timeout=None) -> awaitable, in the extension's pool
        self.background = background
        self.open_git = open_git  # (loc, token source or None) -> Git, blocking
        self.log = log
        # working copy -> (when, target, review branch, fetch task) of a check, used once by a submit
        self._prefetched = LRU(max_working_copies)
        # working copy -> its fetch lock, alive while a fetch holds or awaits it
        self._fetch_locks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    # -- fetching ---------------------------------------------------------------------------------

    def prefetch(self, loc: NotebookLocation, target: str, branch: str):
        """Fetch the target and review branches now, for a submit that may follow the check."""

        async def fetch():
            g = await self.blocking(self.open_git, loc, Once(self.settings.token_source))
            try:
                return await self.fetch(g, loc, target, branch)
            finally:
                await self.blocking(g.close)

        self._prefetched[str(loc.repo_root)] = (time.monotonic(), target, branch, self.background(fetch()))

    def review_refs(self, g: Git, loc: NotebookLocation, target: str, branch: str) -> asyncio.Future:
        """-> a task for (target sha, review branch sha). A check's fetch of the same branches is used
        once, for up to PREFETCH_MAX_AGE seconds: the push's lease on the review branch catches
        anything that moved it since (the submit then fetches again), and a target branch that
        moved meanwhile only means the commit starts from where the target was a moment ago, as
        with any local branch. A check's fetch still under way is waited for, and its failure is
        the submit's (GitLab hanging costs one git timeout, not two); one that had already failed,
        or none, means a fetch now."""
        started, want_target, want_branch, prefetched = self._prefetched.pop(str(loc.repo_root), (0, "", "", None))
        if (want_target, want_branch) != (target, branch) or time.monotonic() - started > PREFETCH_MAX_AGE:
            prefetched = None
        elif prefetched.done():
            if not prefetched.cancelled() and prefetched.exception() is None:
                return prefetched
            prefetched = None
        return prefetched if prefetched is not None else self.background(self.fetch(g, loc, target, branch))

    async def fetch(self, g: Git, loc: NotebookLocation, target: str, branch: str):
        """One fetch at a time per working copy: two at once would race for the same remote-tracking refs."""
        key = str(loc.repo_root)
        lock = self._fetch_locks.get(key)
        if lock is None:
            lock = self._fetch_locks[key] = asyncio.Lock()
        async with lock:
            return await self.blocking(g.fetch_review_refs, target, branch)

    async def fetched(self, fetch, plan: CommitPlan):
        try:
            target_sha, review_sha = await fetch
        except GitFailure as e:
            raise git_error(e, self.settings.gitlab_url) from None
        if target_sha is None:
            raise ReviewError(
                400,
                f"the target branch '{plan.target_branch}' does not exist on GitLab; pick an existing "
                "branch, then submit again",
            )
        return target_sha, review_sha

    # -- committing and pushing -------------------------------------------------------------------

    async def commit_and_push(self, g: Git, plan: CommitPlan, script_path: str, fetch, creds, known=None, pushing=None):
        """-> the pushed commit, or None when the review branch moved under us (the caller fetches again).

        When the review branch already exists and the fetch has not answered yet, the commit is
        built from what the working copy knows (its remote-tracking refs) and pushed at once;
        ``verify`` then checks that against the fetch."""
        _token, author = await creds
        if known is not None and not fetch.done():
            known_target, known_review = await known
            if known_target and known_review:
                commit, parent, fresh = await self.build(g, plan, known_target, known_review, author)
                if not (commit == parent and fresh):  # "nothing new" is for the fetch to confirm
                    if commit != known_review and not await self.push(g, commit, plan.branch, known_review, pushing):
                        return None
                    return await self.verify(
                        g, plan, script_path, fetch, author, commit, parent, known_target, known_review
                    )
        target_sha, review_sha = await self.fetched(fetch, plan)
        commit, parent, fresh = await self.build(g, plan, target_sha, review_sha, author)
        if commit == parent and fresh:
            raise nothing_new(script_path, plan.target_branch)
        if commit != review_sha and not await self.push(g, commit, plan.branch, review_sha, pushing):
            return None
        return commit

    async def verify(
        self, g: Git, plan: CommitPlan, script_path: str, fetch, author, commit, parent, known_target, known_review
    ):
        """After a push from the known refs: the push's lease proved the review branch was at
        ``known_review``; when the fetch shows the target elsewhere, decide the parent again as a
        submit that had waited for the fetch would, and if that differs, rebuild and push again."""
        target_sha, review_sha = await self.fetched(fetch, plan)
        if review_sha not in (known_review, commit):
            return None  # pushed to after us: start again from theirs
        if target_sha == known_target:
            return commit
        merged = await self.blocking(g.is_ancestor, known_review, target_sha)
        if (target_sha if merged else known_review) == parent:
            return commit
        self.log.info("Target %s moved since the last fetch; rebuilding %s on it", plan.target_branch, plan.branch)
        rebuilt = await self.blocking(g.build_commit, target_sha, plan.files, plan.message, author)
        if rebuilt == target_sha:  # the target already has this: put the review branch back as it was
            if commit != known_review:
                await self.push(g, known_review, plan.branch, commit)
            raise nothing_new(script_path, plan.target_branch)
        return rebuilt if await self.push(g, rebuilt, plan.branch, commit) else None

    async def build(self, g: Git, plan: CommitPlan, target_sha: str, review_sha: str | None, author):
        """-> (commit, parent, fresh). The review branch carries on from its last submit, unless it
        was merged meanwhile (fresh: it starts again from the target); the commit on the review
        branch is built while git checks that (the usual case)."""
        if review_sha is None:
            return await self.blocking(g.build_commit, target_sha, plan.files, plan.message, author), target_sha, True
        merged = self.background(self.blocking(g.is_ancestor, review_sha, target_sha))
        commit = await self.blocking(g.build_commit, review_sha, plan.files, plan.message, author)
        if not await merged:
            return commit, review_sha, False
        return await self.blocking(g.build_commit, target_sha, plan.files, plan.message, author), target_sha, True

    async def push(self, g: Git, commit: str, branch: str, expected: str | None, started=None) -> bool:
        """False when the branch is no longer at ``expected`` (the lease refused the push)."""
        if started is not None:
            started.set()
        try:
            await self.blocking(g.push, commit, branch, expected)
            return True
        except GitFailure as e:
            if e.kind == "stale":
                self.log.info("Review branch %s moved on GitLab; rebuilding it", branch)
                return False
            raise git_error(e, self.settings.gitlab_url) from None
