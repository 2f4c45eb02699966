"""The project on GitLab, as the promotion service sees it: branches, commits, tags, merge
requests and their notes, commit statuses, who may read it.

Git (fetch, archive, ancestry, push) goes through the real ``git`` CLI over HTTP against a
bare cache repository per project (asyncio subprocesses, bounded by timeouts, started through
``jupyterhub_ds.git_command``: no hooks, no configured helpers or proxies, an allow-listed
environment); tags and merge-request notes go through python-gitlab in a thread (it blocks).
The service's token reaches git through a pipe read by our credential helper, for GitLab's
host only, so it is never in a command line, a URL, an environment, a config or a log.

Pushes are plain pushes of an exact commit to ``refs/heads/<lane>``: never forced, so GitLab
(and the stand-in) refuse anything that is not a fast-forward. Fetches into the cache take turns
(a promotion and a review run of one project share it).

What is read from GitLab or the repository for review runs is bounded: one page of merge
requests, at most :data:`MAX_NOTES` notes looked through, :data:`MAX_CHANGED` changed paths, and
scripts of at most :data:`MAX_SCRIPT_BYTES` read to tell whether they are notebooks.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from urllib.parse import quote

from .. import git_command, gitlab_client


def in_daemon_thread(fn, *args):
    """``fn(*args)`` in a daemon thread of its own, as an asyncio future.

    Written here because neither ``asyncio.to_thread`` nor a ``ThreadPoolExecutor`` will do for a
    GitLab call: python-gitlab sleeps between retries inside the call, so a call to a GitLab that
    is down can outlast the ``wait_for`` around it, and pool threads are joined when the event
    loop closes and when the interpreter exits: the service could not stop until they returned.
    A daemon thread is abandoned instead; a run's record says where it was, and the next start
    resumes it."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result, error):
        if not future.done():  # wait_for gave up on it meanwhile
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def work():
        try:
            result, error = fn(*args), None
        except BaseException as e:  # handed to the awaiting coroutine
            result, error = None, e
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is closed: the service has stopped
            pass

    threading.Thread(target=work, name=f"gitlab-{getattr(fn, '__name__', 'call')}", daemon=True).start()
    return future


GIT_TIMEOUT = 300
API_TIMEOUT = 60
MAX_NOTES = 1000
MAX_CHANGED = 1000
MAX_SCRIPT_BYTES = 1024 * 1024
IDENTITY = {
    "GIT_AUTHOR_NAME": "jupyterhub-ds promotion",
    "GIT_AUTHOR_EMAIL": "promotion@jupyterhub-ds.invalid",
    "GIT_COMMITTER_NAME": "jupyterhub-ds promotion",
    "GIT_COMMITTER_EMAIL": "promotion@jupyterhub-ds.invalid",
}


class GitError(RuntimeError):
    """A git command failed; the message names the command (without credentials) and git's words."""


class RemoteProject:
    def __init__(self, gitlab_url, project_path, token, cache_dir, gitlab_client=None):
        self.gitlab_url = gitlab_url.rstrip("/")
        self.path = project_path
        self.token = token
        self.repo = Path(cache_dir) / (quote(project_path, safe="") + ".git")
        self._gl = gitlab_client
        self._project = None
        self._me = None  # the service's own GitLab user id (the author of its notes)
        self._fetching = asyncio.Lock()

    # --- git ---------------------------------------------------------------------------

    @property
    def url(self):
        return f"{self.gitlab_url}/{self.path}.git"

    async def git(self, *args, input=None, timeout=GIT_TIMEOUT, check=True, network=False):
        """``git --git-dir <cache> <args>``; ``network``: it talks to GitLab (gets the token)."""
        try:
            proc = await git_command.run_async(
                ("--git-dir", str(self.repo), *args),
                input=input,
                timeout=timeout,
                env=IDENTITY,
                token=self.token if network else None,
                gitlab_url=self.gitlab_url,
            )
        except git_command.GitTimeout:
            raise GitError(
                f"git {args[0]} for {self.path} did not finish within {timeout}s; is GitLab reachable?"
            ) from None
        if check and proc.returncode != 0:
            raise GitError(
                f"git {git_command.scrub(' '.join(args), self.token)} for {self.path} failed "
                f"(exit {proc.returncode}): {git_command.scrub(proc.stderr.decode(errors='replace').strip(), self.token)}"
            )
        if not check:
            return proc.returncode
        return proc.stdout if args[0] == "archive" else proc.stdout.decode(errors="replace")

    async def ensure_repo(self):
        if not (self.repo / "HEAD").exists():
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            proc = await git_command.run_async(("init", "-q", "--bare", str(self.repo)), timeout=60)
            if proc.returncode != 0:
                raise GitError(
                    f"git init of the cache {self.repo} failed: {git_command.message(proc.stderr.decode(errors='replace'))}"
                )

    async def fetch(self, *branches):
        """Fetch the branches into ``refs/remotes/origin/*``; return {branch: sha or None}."""
        await self.ensure_repo()
        heads = await self.heads(*branches)
        wanted = [f"+refs/heads/{b}:refs/remotes/origin/{b}" for b, sha in heads.items() if sha]
        if wanted:
            async with self._fetching:
                await self.git("fetch", "--no-tags", "-q", self.url, *wanted, network=True)
        return heads

    async def fetch_commit(self, sha):
        """Make sure ``sha`` is in the cache (fetching all branches if needed)."""
        await self.ensure_repo()
        if await self._has(sha):
            return
        async with self._fetching:
            if not await self._has(sha):
                await self.git(
                    "fetch", "--no-tags", "-q", self.url, "+refs/heads/*:refs/remotes/origin/*", network=True
                )
        if not await self._has(sha):
            raise GitError(f"commit {sha[:12]} is not on any branch of {self.path} any more")

    async def _has(self, sha):
        return await self.git("cat-file", "-e", f"{sha}^{{commit}}", timeout=60, check=False) == 0

    async def heads(self, *branches):
        """The remote's current heads of ``branches`` (None: no such branch), straight from GitLab."""
        await self.ensure_repo()
        out = await self.git("ls-remote", "--heads", self.url, *[f"refs/heads/{b}" for b in branches], network=True)
        found = {}
        for line in out.splitlines():
            sha, ref = line.split("\t", 1)
            found[ref[len("refs/heads/") :]] = sha
        return {b: found.get(b) for b in branches}

    async def is_ancestor(self, ancestor, descendant):
        if ancestor is None:
            return True
        return await self.git("merge-base", "--is-ancestor", ancestor, descendant, timeout=60, check=False) == 0

    async def commits_between(self, old, new):
        spec = [new] if old is None else [f"{old}..{new}"]
        return (await self.git("rev-list", *spec)).split()

    async def merge_base(self, a, b):
        """The best common ancestor of two commits in the cache (None: unrelated)."""
        try:
            return (await self.git("merge-base", a, b, timeout=60)).strip() or None
        except GitError:
            return None

    async def changed_paths(self, base, head, limit=MAX_CHANGED):
        """Files added or modified from ``base`` to ``head`` (renames count as added), at most ``limit``."""
        out = await self.git("diff", "--name-only", "-z", "--no-renames", "--diff-filter=d", base, head, timeout=60)
        return [p for p in out.split("\0") if p][:limit]

    async def script_text(self, sha, path, limit=MAX_SCRIPT_BYTES):
        """The text of a file at ``sha`` when it is at most ``limit`` bytes, else None."""
        spec = f"{sha}:{path}"
        size = (await self.git("cat-file", "-s", spec, timeout=60)).strip()
        if not size.isdigit() or int(size) > limit:
            return None
        return await self.git("cat-file", "blob", spec, timeout=60)

    async def archive(self, sha):
        return await self.git("archive", "--format=tar", sha)

    async def push(self, sha, branch):
        """Move ``branch`` to ``sha`` on GitLab: a plain push, refused unless a fast-forward."""
        await self.git("push", "-q", self.url, f"{sha}:refs/heads/{branch}", network=True)

    async def rollback_commit(self, tree_of, parent, message):
        """A new commit on top of ``parent`` whose tree is ``tree_of``'s (so the lane can go
        back to a recorded state by a fast-forward)."""
        out = await self.git("commit-tree", f"{tree_of}^{{tree}}", "-p", parent, "-m", message)
        return out.strip()

    # --- GitLab API ------------------------------------------------------------------------

    async def api(self, fn, *args, timeout=API_TIMEOUT):
        return await asyncio.wait_for(in_daemon_thread(fn, *args), timeout)

    def _gitlab_project(self):
        if self._project is None:
            if self._gl is None:
                self._gl = gitlab_client.client(
                    self.gitlab_url, self.token, timeout=API_TIMEOUT, retry_transient_errors=True
                )
            self._project = self._gl.projects.get(self.path, lazy=True)
        return self._project

    def _tag(self, name):
        import gitlab

        try:
            return self._gitlab_project().tags.get(name)
        except gitlab.GitlabGetError as e:
            if e.response_code == 404:
                return None
            raise

    async def tag(self, name):
        """The tag's attributes (name, target, message, commit), or None."""
        tag = await self.api(self._tag, name)
        return None if tag is None else tag.attributes

    async def create_tag(self, name, sha, message):
        def create():
            return self._gitlab_project().tags.create({"tag_name": name, "ref": sha, "message": message}).attributes

        return await self.api(create)

    async def merged_requests(self, target_branch=None):
        """Merged MRs (into ``target_branch``, or any), as dicts, newest first."""

        def listing():
            filters = {"target_branch": target_branch} if target_branch else {}
            mrs = self._gitlab_project().mergerequests.list(
                state="merged", order_by="updated_at", get_all=True, **filters
            )
            return [m.attributes for m in mrs]

        return await self.api(listing)

    async def note_once(self, mr_iid, marker, body):
        """Add ``body`` to MR ``mr_iid`` unless a note containing ``marker`` is there already."""

        def note():
            mr = self._gitlab_project().mergerequests.get(mr_iid, lazy=True)
            if any(marker in (n.body or "") for n in mr.notes.list(get_all=True)):
                return False
            mr.notes.create({"body": body})
            return True

        return await self.api(note)

    # --- merge requests and review runs --------------------------------------------------------

    async def merge_request(self, iid):
        """The merge request's attributes (state, sha, branches, web_url...), or None if there is none."""
        import gitlab

        def get():
            try:
                return self._gitlab_project().mergerequests.get(iid).attributes
            except gitlab.GitlabGetError as e:
                if e.response_code == 404:
                    return None
                raise

        return await self.api(get)

    async def open_merge_requests(self, updated_after=None, limit=100):
        """Open merge requests updated since ``updated_after``, least recently updated first: one
        page of at most ``limit`` (the next look goes on from the last one)."""

        def listing():
            filters = {"updated_after": updated_after} if updated_after else {}
            mrs = self._gitlab_project().mergerequests.list(
                state="opened", order_by="updated_at", sort="asc", per_page=limit, get_all=False, **filters
            )
            return [m.attributes for m in mrs]

        return await self.api(listing)

    async def set_status(self, sha, state, *, name, ref=None, target_url=None, description=None):
        """Post the commit status ``name`` of ``sha`` (pending, running, success, failed, canceled)."""
        data = {"state": state, "name": name}
        data.update({k: v for k, v in (("ref", ref), ("target_url", target_url), ("description", description)) if v})

        def post():
            return self._gitlab_project().commits.get(sha, lazy=True).statuses.create(data).attributes

        return await self.api(post)

    def _my_id(self):
        if self._me is None:
            self._gitlab_project()  # makes the client
            self._gl.auth()
            self._me = self._gl.user.id
        return self._me

    async def upsert_note(self, mr_iid, marker, body, known_id=None):
        """The one note of this service on the merge request that holds ``marker``: edited to
        ``body`` (``PUT .../notes/:id``), or created; returns its id. ``known_id``: where it was
        last time (else the first :data:`MAX_NOTES` notes are looked through)."""
        import gitlab

        def upsert():
            me = self._my_id()
            mr = self._gitlab_project().mergerequests.get(mr_iid, lazy=True)
            found = None
            if known_id:
                try:
                    note = mr.notes.get(known_id)
                    found = note if note.author["id"] == me and marker in (note.body or "") else None
                except gitlab.GitlabGetError as e:
                    if e.response_code != 404:
                        raise
            if found is None:
                for i, note in enumerate(mr.notes.list(iterator=True, per_page=100, sort="asc", order_by="created_at")):
                    if i >= MAX_NOTES:
                        break
                    if not note.system and note.author["id"] == me and marker in (note.body or ""):
                        found = note
                        break
            if found is None:
                return mr.notes.create({"body": body}).id
            mr.notes.update(found.id, {"body": body})
            return found.id

        return await self.api(upsert)

    async def reader_access(self, username):
        """The GitLab access level ``username`` holds in this project (directly, through a group
        or inherited: members/all), 0 when none, blocked, or not a GitLab user."""
        import gitlab

        def access():
            project = self._gitlab_project()  # (makes the client)
            users = self._gl.users.list(username=username, get_all=False, per_page=2)
            user = next((u for u in users if u.username.lower() == username.lower()), None)
            if user is None or getattr(user, "state", "active") != "active":
                return 0
            try:
                member = project.members_all.get(user.id)
            except gitlab.GitlabGetError as e:
                if e.response_code == 404:
                    return 0
                raise
            if (
                getattr(member, "state", "active") != "active"
                or getattr(member, "membership_state", "active") != "active"
            ):
                return 0
            return int(member.access_level)

        return await self.api(access)
