"""Check, submit and status: the stateful shell around the pure cores (gates, commit plan, summary).

Blocking work (file reads, GitPython, python-gitlab, hub calls) runs in a thread pool with
timeouts; nbdime runs in the summary worker process. One submit per notebook at a time: a
second request for the same file while one runs gets 409.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jupytext

from . import gitlab_mr
from .commit_plan import CommitPlan, plan_commit
from .config import ReviewConfig
from .errors import ReviewError
from .gates import Submission, run_gates
from .gitops import Git, GitFailure, project_path
from .pairing import ensure_pairing
from .paths import NotebookLocation, locate_notebook
from .store import SubmissionStore
from .summary import mr_description, text_cells
from .summary_worker import shared_worker

BRANCH_RE = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![./])$")
KEPT = "your notebook is unchanged"


@dataclass
class Prepared:
    loc: NotebookLocation
    submission: Submission
    plan: CommitPlan
    gates: list
    project: str | None
    current_branch: str | None

    @property
    def ok(self) -> bool:
        return all(g.ok for g in self.gates)

    def gates_json(self) -> list:
        return [g.to_json() for g in self.gates]


def git_error(e: GitFailure, gitlab_url: str) -> ReviewError:
    if e.kind == "auth":
        return ReviewError(502, f"GitLab refused the git credentials; your session may have expired: reload "
                                f"JupyterLab (or log in to the hub again), then submit again; {KEPT} ({e.message})")
    if e.kind == "unreachable":
        return ReviewError(502, f"GitLab ({gitlab_url}) is not reachable for git; {KEPT}, try again in a minute "
                                f"({e.message})")
    if e.kind == "rejected":
        return ReviewError(502, f"GitLab rejected the push: {e.message}; {KEPT}. Ask a project maintainer if you "
                                "should have push access")
    return ReviewError(502, f"git failed: {e.message}; {KEPT}, try again")


def local_modules(loc: NotebookLocation) -> frozenset:
    """Modules a notebook may import from its own project (files next to it or at the repo root)."""
    names = set()
    for folder in {loc.path.parent, loc.repo_root}:
        for p in folder.iterdir():
            if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()):
                names.add(p.stem)
    return frozenset(names)


_executor: ThreadPoolExecutor | None = None


def shared_executor() -> ThreadPoolExecutor:
    """Threads for blocking calls (GitPython, python-gitlab, hub, files), shared per process."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="jupyterhub-ds-review")
    return _executor


class ReviewService:
    def __init__(self, settings: ReviewConfig, root_dir: str, log):
        self.settings = settings
        self.root_dir = root_dir
        self.log = log
        self.busy: set[str] = set()
        self.executor = shared_executor()
        self.worker = shared_worker(log)
        self.store = SubmissionStore(settings.state_dir)

    async def blocking(self, fn, *args, timeout: float | None = None, **kwargs):
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs)), timeout)

    # -- preparing (files, plan, gates): blocking, runs in the pool ---------------------------------

    def _prepare(self, api_path, title="", description="", target=None) -> Prepared:
        loc = locate_notebook(self.root_dir, api_path)
        policy = self.settings.review_policy()
        ensure_pairing(loc.repo_root, policy.commit_notebooks)
        raw = loc.path.read_bytes()
        try:
            nb = json.loads(raw)
            if not isinstance(nb, dict) or "cells" not in nb:
                raise ValueError("no cells")
        except ValueError as e:
            raise ReviewError(400, f"{loc.repo_path} is not a readable notebook ({e}); open it in JupyterLab, "
                                   "save it, then submit again") from None
        script_file = loc.script_path
        script = script_file.read_bytes() if script_file.is_file() else None
        plan = plan_commit(policy=policy, user=self.settings.username, notebook_path=loc.repo_path, notebook=nb,
                           script_path=loc.script_repo_path, script=script or b"", title=title or "",
                           description=description or "", target_branch=target, strip=self.settings.strip_outputs)
        files = plan.files if script is not None else {k: v for k, v in plan.files.items() if k != loc.script_repo_path}
        submission = Submission(loc.repo_path, nb, len(raw), loc.script_repo_path,
                                None if script is None else script.decode("utf-8", "replace"), files, policy,
                                local_modules(loc))
        try:
            g = Git.open(loc.repo_root, self.settings.git_credential_helper)
            project, branch = project_path(g.remote_url(), self.settings.gitlab_url), g.current_branch()
        except (GitFailure, Exception) as e:  # an odd working copy still gets its gate results
            self.log.debug("repo info for %s: %s", loc.repo_root, e)
            project, branch = None, None
        return Prepared(loc, submission, plan, run_gates(submission), project, branch)

    def _repo_json(self, p: Prepared) -> dict:
        return {"root": p.loc.repo_api_root, "project": p.project, "branch": p.plan.branch,
                "current_branch": p.current_branch, "target_branch": p.plan.target_branch}

    async def check(self, api_path) -> dict:
        p = await self.blocking(self._prepare, api_path)
        return {"path": p.loc.api_path, "repo": self._repo_json(p), "gates": p.gates_json(), "ok": p.ok}

    # -- submit ----------------------------------------------------------------------------------------

    async def submit(self, api_path, title, description=None, target_branch=None) -> dict:
        if not isinstance(title, str) or len(title) > 255:
            raise ReviewError(400, '"title" must be text of at most 255 characters; shorten the title')
        if description is not None and not isinstance(description, str):
            raise ReviewError(400, '"description" must be text')
        if target_branch is not None and (not isinstance(target_branch, str) or not BRANCH_RE.match(target_branch)):
            raise ReviewError(400, f"target branch {target_branch!r} is not a valid branch name; pick one like 'main'")
        loc = await self.blocking(locate_notebook, self.root_dir, api_path)
        key = str(loc.path)
        if key in self.busy:
            raise ReviewError(409, f"{loc.api_path} is already being submitted; wait for that submit to finish "
                                   "(it returns the merge request link), then try again")
        self.busy.add(key)
        try:
            return await self._submit(api_path, title, description or "", target_branch)
        finally:
            self.busy.discard(key)

    async def _submit(self, api_path, title, description, target_branch) -> dict:
        s = self.settings
        p = await self.blocking(self._prepare, api_path, title, description, target_branch)
        name = p.loc.repo_path
        if not p.ok:
            failed = [g.gate for g in p.gates if not g.ok]
            raise ReviewError(422, f"{name} was not submitted: {len(failed)} check{'s' if len(failed) > 1 else ''} "
                                   f"failed ({', '.join(failed)}); fix what the messages say, then submit again",
                              p.gates_json())
        if not p.project:
            raise ReviewError(400, f"{name}: the working copy's 'origin' is not a project on {s.gitlab_url or 'GitLab'}; "
                                   "clone the project from GitLab into ~/projects and work there")
        plan = p.plan
        g = await self.blocking(Git.open, p.loc.repo_root, s.git_credential_helper, s.git_timeout)
        creds = asyncio.ensure_future(self._credentials())  # the hub round trip overlaps the git fetch
        try:
            for _attempt in (1, 2):  # a second time only when the review branch moved under us
                commit, base_script = await self._commit_and_push(g, p, plan, creds)
                if commit is not None:
                    break
            else:
                raise ReviewError(502, f"the review branch {plan.branch} keeps moving on GitLab; {KEPT}, submit again")
            token, _author = await creds
        finally:
            if not creds.done():
                creds.cancel()
        new_script = plan.files[p.loc.script_repo_path].decode("utf-8", "replace")
        summary, fallback = await self.worker.summarise(
            timeout=s.summary_timeout,
            path=name, script_path=p.loc.script_repo_path, target=plan.target_branch, base_script=base_script,
            new_script=new_script, base_cells=text_cells(jupytext.reads(base_script, fmt="py:percent")) if base_script else [],
            new_cells=text_cells(jupytext.reads(new_script, fmt="py:percent")))
        mrs = gitlab_mr.MergeRequests(gitlab_mr.client(s.gitlab_url, token, s.gitlab_timeout), p.project)
        try:
            mr, created = await self.blocking(mrs.ensure, plan.branch, plan.target_branch, plan.title,
                                              mr_description(description, summary), timeout=s.gitlab_timeout * 3)
        except gitlab_mr.GitLabFailure as e:
            raise ReviewError(502, f"{e.message} (the branch {plan.branch} was pushed; submitting again creates or "
                                   "updates the merge request)") from None
        except asyncio.TimeoutError:
            raise ReviewError(502, f"GitLab did not answer in time; {KEPT}, submit again") from None
        entry = {"path": p.loc.api_path, "project": p.project, "branch": plan.branch, "iid": mr["iid"],
                 "web_url": mr["web_url"], "title": mr["title"], "state": mr["state"]}
        await self.blocking(self.store.record, p.loc.api_path, entry)
        self.log.info("Submitted %s as %s!%s (%s)", name, p.project, mr["iid"], "created" if created else "updated")
        return {"path": p.loc.api_path, "branch": plan.branch, "commit": commit, "mr": mr, "created": created,
                "summary": summary, "summary_fallback": fallback, "gates": p.gates_json()}

    async def _credentials(self):
        s = self.settings
        try:
            token = await self.blocking(s.token_source, timeout=s.gitlab_timeout)
            author = await self.blocking(s.identity_source, timeout=s.gitlab_timeout)
        except ReviewError:
            raise
        except Exception as e:
            raise ReviewError(502, f"could not get your GitLab credentials from the hub ({type(e).__name__}: {e}); "
                                   f"reload JupyterLab or log in to the hub again; {KEPT}") from None
        return token, author

    async def _commit_and_push(self, g: Git, p: Prepared, plan: CommitPlan, creds):
        """-> (commit or None when the branch moved under us, base script text on the target)."""
        s = self.settings
        try:
            target_sha, review_sha = await self.blocking(g.fetch_review_refs, plan.target_branch, plan.branch)
        except GitFailure as e:
            raise git_error(e, s.gitlab_url) from None
        if target_sha is None:
            raise ReviewError(400, f"the target branch '{plan.target_branch}' does not exist on GitLab; pick an existing "
                                   "branch, then submit again")
        base_bytes = await self.blocking(g.file_at, target_sha, p.loc.script_repo_path)
        # the review branch carries on from its last submit, unless it was merged meanwhile
        fresh = review_sha is None or await self.blocking(g.is_ancestor, review_sha, target_sha)
        parent = target_sha if fresh else review_sha
        _token, author = await creds
        commit = await self.blocking(g.build_commit, parent, plan.files, plan.message, author)
        if commit == parent and (fresh or review_sha is None):
            raise ReviewError(400, f"nothing to submit: {p.loc.script_repo_path} is the same as on "
                                   f"'{plan.target_branch}'; edit the notebook, save, then submit again")
        if commit != review_sha:
            try:
                await self.blocking(g.push, commit, plan.branch, review_sha)
            except GitFailure as e:
                if e.kind == "stale":
                    self.log.info("Review branch %s moved on GitLab; rebuilding it", plan.branch)
                    return None, None
                raise git_error(e, s.gitlab_url) from None
        return commit, (base_bytes or b"").decode("utf-8", "replace")

    # -- status ----------------------------------------------------------------------------------------

    async def status(self, api_path=None) -> dict:
        entries = await self.blocking(self.store.load)
        if api_path:
            entries = {k: v for k, v in entries.items() if k == api_path.strip("/")}
        if not entries:
            return {"submissions": []}
        s = self.settings
        try:
            token = await self.blocking(s.token_source, timeout=s.gitlab_timeout)
        except Exception as e:
            raise ReviewError(502, f"could not get your GitLab token from the hub ({type(e).__name__}); reload "
                                   "JupyterLab or log in to the hub again") from None
        gl = gitlab_mr.client(s.gitlab_url, token, s.gitlab_timeout)

        async def one(entry):
            mrs = gitlab_mr.MergeRequests(gl, entry["project"])
            mr = await self.blocking(mrs.status, entry["iid"], timeout=s.gitlab_timeout * 2)
            return {"path": entry["path"], "branch": entry["branch"], "mr": mr}

        try:
            found = await asyncio.gather(*(one(e) for e in sorted(entries.values(), key=lambda e: e["path"])))
        except gitlab_mr.GitLabFailure as e:
            raise ReviewError(502, e.message) from None
        except asyncio.TimeoutError:
            raise ReviewError(502, "GitLab did not answer in time; try again in a minute") from None
        return {"submissions": list(found)}
