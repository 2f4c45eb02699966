"""Check, submit and status: the requests, around the pure cores (gates, commit plan, summary).

Blocking work (file reads, GitPython, python-gitlab, hub calls) runs in the extension's thread
pool with timeouts; the cell summary runs in the summary worker process; the git side of a submit (the
fetch a check starts, the leased push) is the :class:`~.submit_engine.SubmitEngine`'s. One
submit per notebook at a time: a second request for the same file while one runs gets 409.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass

from jupyterhub_ds import gitlab_client

from . import gitlab_mr
from .commit_plan import CommitPlan, branch_name, plan_commit
from .config import ReviewConfig
from .errors import KEPT, ReviewError
from .gates import Submission, oversized_notebook, run_gates, too_big_to_read
from .gitops import Git, project_path
from .lru import LRU
from .packages import installed_map
from .pairing import PairOnSave, ensure_pairing, signature
from .paths import NotebookLocation, locate_notebook
from .policy import PolicyError, ReviewPolicy
from .store import SubmissionStore
from .submit_engine import Background, Once, SubmitEngine
from .summary import mr_description, text_cells
from .summary_worker import SummaryWorker

BRANCH_RE = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![./])$")


def read_notebook(loc: NotebookLocation) -> dict:
    try:
        nb = json.loads(loc.path.read_bytes())
        if not isinstance(nb, dict) or "cells" not in nb:
            raise ValueError("no cells")
        return nb
    except ValueError as e:
        raise ReviewError(
            400, f"{loc.repo_path} is not a readable notebook ({e}); open it in JupyterLab, save it, then submit again"
        ) from None


@dataclass
class Prepared:
    loc: NotebookLocation
    plan: CommitPlan
    gates: list
    project: str | None
    current_branch: str | None

    @property
    def ok(self) -> bool:
        return all(g.ok for g in self.gates)

    def gates_json(self) -> list:
        return [g.to_json() for g in self.gates]


def local_modules(loc: NotebookLocation) -> frozenset:
    """Modules a notebook may import from its own project (files next to it or at the repo root)."""
    names = set()
    for folder in {loc.path.parent, loc.repo_root}:
        for p in folder.iterdir():
            if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()):
                names.add(p.stem)
    return frozenset(names)


class ReviewService:
    """What the handlers call. ``executor`` and ``worker`` belong to the extension app, which
    shuts them down when the server stops."""

    def __init__(
        self,
        settings: ReviewConfig,
        root_dir: str,
        log,
        saves: PairOnSave | None = None,
        *,
        executor: Executor,
        worker: SummaryWorker,
    ):
        self.settings = settings
        self.saves = saves  # the contents manager's post-save hook: knows notebooks saved with their script
        self.root_dir = root_dir
        self.log = log
        self.busy: set[str] = set()
        self.executor = executor
        self.worker = worker
        self.store = SubmissionStore(settings.state_dir)
        self.background = Background()
        self.engine = SubmitEngine(
            settings, blocking=self.blocking, background=self.background, open_git=self._git, log=log
        )
        self._gate_cache = LRU(256)  # notebook real path -> (file/policy signature, (gates, project, branch))
        self._cells = LRU(16)  # notebook real path -> (file signature, its cells for the summary)
        self._gitlab: tuple | None = None  # ((url, token), python-gitlab client): one connection pool
        self._warm = threading.Event()

    def warm_up(self):
        """Start the summary worker process (and its standby) and the import-name table, once, in
        the background: at the first review request (the dialog's check, the Reviews panel), not
        at server start, where every server of a team starting at once would pay for it. The
        submit that follows a check finds them ready."""
        if self._warm.is_set():
            return
        self._warm.set()

        def work():
            self.worker.warm_up()
            installed_map()

        threading.Thread(target=work, name="jupyterhub-ds-warm-up", daemon=True).start()

    async def stop(self):
        """The server stops: end the work requests left running (their git objects are closed)."""
        await self.background.cancel_all()

    def policy(self) -> ReviewPolicy:
        try:
            return self.settings.review_policy()
        except PolicyError as e:
            raise ReviewError(
                500,
                f"the review policy set by the hub is invalid ({e}); nothing was submitted, ask an "
                "admin to fix the review section of the hub config",
            ) from None

    async def blocking(self, fn, *args, timeout: float | None = None, **kwargs):
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(
            loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs)), timeout
        )

    # -- preparing (files, plan, gates): blocking, runs in the pool ---------------------------------

    def _prepare(self, api_path, title="", description="", target=None) -> Prepared:
        """Read, plan and gate. Gate results are reused while neither file nor the policy changed
        (the dialog runs ``check`` when it opens, so the submit that follows skips the work)."""
        loc = locate_notebook(self.root_dir, api_path, self.settings.workspace_dir)
        settings = self.settings
        policy = self.policy()
        try:
            ensure_pairing(loc.repo_root, policy.commit_notebooks)
        except OSError as e:  # a read-only clone still gets its gate results
            self.log.warning("Cannot set up notebook pairing in %s: %s", loc.repo_root, e)
        script_file = loc.script_path
        # the folders' signatures cover modules added next to the notebook (the packages gate)
        key = (
            signature(loc.path),
            signature(script_file),
            signature(loc.path.parent),
            signature(loc.repo_root),
            repr(policy),
            settings.strip_outputs,
        )
        cached = self._gate_cache.get(str(loc.path))
        hit = cached is not None and cached[0] == key
        script = script_file.read_bytes() if script_file.is_file() else None
        size = loc.path.stat().st_size
        if too_big_to_read(size, policy):
            plan = plan_commit(
                policy=policy,
                user=settings.username,
                notebook_path=loc.repo_path,
                notebook={},
                script_path=loc.script_repo_path,
                script=script or b"",
                title=title or "",
                description=description or "",
                target_branch=target,
            )
            return Prepared(loc, plan, oversized_notebook(loc.repo_path, size, policy), *self._repo_info(loc))
        notebook_signature = signature(loc.path)
        nb = None if hit and not policy.commit_notebooks else read_notebook(loc)
        if nb is not None:  # the summary needs the cells too: no second read of a big notebook
            self._cells[str(loc.path)] = (notebook_signature, text_cells(nb))
        plan = plan_commit(
            policy=policy,
            user=settings.username,
            notebook_path=loc.repo_path,
            notebook=nb or {},
            script_path=loc.script_repo_path,
            script=script or b"",
            title=title or "",
            description=description or "",
            target_branch=target,
            strip=settings.strip_outputs,
        )
        if script is None:
            plan.files.pop(loc.script_repo_path, None)
        if hit:
            gates, project, branch = cached[1]
        else:
            submission = Submission(
                loc.repo_path,
                nb,
                size,
                loc.script_repo_path,
                None if script is None else script.decode("utf-8", "replace"),
                plan.files,
                policy,
                local_modules(loc),
                self.saves is not None and self.saves.in_sync(loc.path),
            )
            gates = run_gates(submission)
            project, branch = self._repo_info(loc)
            self._gate_cache[str(loc.path)] = (key, (gates, project, branch))
        return Prepared(loc, plan, gates, project, branch)

    def _git(self, loc: NotebookLocation, token=None) -> Git:
        """The working copy's Git; ``token``: where network commands get the GitLab token."""
        s = self.settings
        return Git.open(
            loc.repo_root, gitlab_url=s.gitlab_url, token=token, helper=s.git_credential_helper, timeout=s.git_timeout
        )

    def _repo_info(self, loc: NotebookLocation):
        try:
            g = self._git(loc)
            try:
                return project_path(g.remote_url(), self.settings.gitlab_url), g.current_branch()
            finally:
                g.close()
        except Exception as e:  # an odd working copy still gets its gate results
            self.log.debug("repo info for %s: %s", loc.repo_root, e)
            return None, None

    def _repo_json(self, p: Prepared) -> dict:
        return {
            "root": p.loc.repo_api_root,
            "project": p.project,
            "branch": p.plan.branch,
            "current_branch": p.current_branch,
            "target_branch": p.plan.target_branch,
        }

    async def check(self, api_path) -> dict:
        p = await self.blocking(self._prepare, api_path)
        if p.ok and p.project:
            self.engine.prefetch(p.loc, p.plan.target_branch, p.plan.branch)
        return {"path": p.loc.api_path, "repo": self._repo_json(p), "gates": p.gates_json(), "ok": p.ok}

    # -- submit ----------------------------------------------------------------------------------------

    async def submit(self, api_path, title, description=None, target_branch=None) -> dict:
        if not isinstance(title, str) or len(title) > 255:
            raise ReviewError(400, '"title" must be text of at most 255 characters; shorten the title')
        if description is not None and not isinstance(description, str):
            raise ReviewError(400, '"description" must be text')
        if target_branch is not None and (not isinstance(target_branch, str) or not BRANCH_RE.match(target_branch)):
            raise ReviewError(400, f"target branch {target_branch!r} is not a valid branch name; pick one like 'main'")
        loc = await self.blocking(locate_notebook, self.root_dir, api_path, self.settings.workspace_dir)
        key = str(loc.path)
        if key in self.busy:
            raise ReviewError(
                409,
                f"{loc.api_path} is already being submitted; wait for that submit to finish "
                "(it returns the merge request link), then try again",
            )
        self.busy.add(key)
        g = None
        token = Once(self.settings.token_source)  # one hub call for the fetch, the push and GitLab's API
        try:
            g = await self.blocking(self._open_git, loc, token)
            return await self._submit(g, loc, title, description or "", target_branch, token)
        finally:
            self.busy.discard(key)
            if g is not None:
                await self.blocking(g.close)

    def _open_git(self, loc: NotebookLocation, token) -> Git:
        try:
            return self._git(loc, token)
        except Exception as e:  # git.InvalidGitRepositoryError and friends
            raise ReviewError(
                400,
                f"{loc.api_path}: {loc.repo_api_root or 'its folder'} is not a usable git working "
                f"copy ({type(e).__name__}); clone the project again, then submit",
            ) from None

    async def _submit(self, g: Git, loc: NotebookLocation, title, description, target_branch, token) -> dict:
        s = self.settings
        policy = self.policy()
        branch, target = branch_name(policy, s.username, loc.repo_path), target_branch or policy.target_branch
        # the git fetch and the hub round trip overlap the gates; nothing is written before the gates pass
        fetch = self.engine.review_refs(g, loc, target, branch)
        known = self.background(self.blocking(g.tracking_refs, target, branch))  # from the last fetch or push
        creds = self.background(self._credentials(token))
        # work off the critical path waits until the push is under way (the push waits on the
        # network, the rest of a submit on this process): the summary and the merge request lookup
        pushing = asyncio.Event()
        summary_task = self.background(self._summary(g, loc, target, fetch, after=pushing))
        try:
            return await self._gate_commit_and_open(
                g, loc, title, description, target_branch, fetch, known, creds, summary_task, pushing
            )
        finally:
            pushing.set()

    async def _gate_commit_and_open(
        self,
        g: Git,
        loc: NotebookLocation,
        title,
        description,
        target_branch,
        fetch,
        known,
        creds,
        summary_task,
        pushing,
    ) -> dict:
        s = self.settings
        t0 = time.monotonic()
        p = await self.blocking(self._prepare, loc.api_path, title, description, target_branch)
        timings = {"gates": time.monotonic() - t0}
        name = p.loc.repo_path
        if not p.ok:
            failed = [g.gate for g in p.gates if not g.ok]
            raise ReviewError(
                422,
                f"{name} was not submitted: {len(failed)} check{'s' if len(failed) > 1 else ''} "
                f"failed ({', '.join(failed)}); fix what the messages say, then submit again",
                p.gates_json(),
            )
        if not p.project:
            raise ReviewError(
                400,
                f"{name}: the working copy's 'origin' is not a project on {s.gitlab_url or 'GitLab'}; "
                "clone the project from GitLab into ~/projects and work there",
            )
        plan = p.plan
        mrs = self.background(self._merge_requests(creds, p.project))
        lookup = self.background(self._find_open(mrs, plan.branch, after=pushing))
        for _attempt in (1, 2):  # a second time only when the review branch moved under us
            commit = await self.engine.commit_and_push(g, plan, p.loc.script_repo_path, fetch, creds, known, pushing)
            if commit is not None:
                break
            known = None
            fetch = self.background(self.engine.fetch(g, p.loc, plan.target_branch, plan.branch))
        else:
            raise ReviewError(502, f"the review branch {plan.branch} keeps moving on GitLab; {KEPT}, submit again")
        pushing.set()  # nothing new to push: the waiting work starts now
        timings["git"] = time.monotonic() - t0 - timings["gates"]
        summary, fallback, summarised = await summary_task
        if summarised != plan.files[p.loc.script_repo_path]:  # saved again meanwhile: describe what is committed
            summary, fallback, _ = await self._summary(
                g, p.loc, plan.target_branch, fetch, plan.files[p.loc.script_repo_path]
            )
        timings["summary wait"] = time.monotonic() - t0 - timings["gates"] - timings["git"]
        mrs = await mrs
        found = await lookup
        try:
            mr, created = await self.blocking(
                mrs.ensure,
                plan.branch,
                plan.target_branch,
                plan.title,
                mr_description(description, summary),
                found=found,
                timeout=s.gitlab_timeout * 3,
            )
        except gitlab_mr.GitLabFailure as e:
            raise ReviewError(
                502,
                f"{e.message} (the branch {plan.branch} was pushed; submitting again creates or "
                "updates the merge request)",
            ) from None
        except asyncio.TimeoutError:
            raise ReviewError(502, f"GitLab did not answer in time; {KEPT}, submit again") from None
        entry = {
            "path": p.loc.api_path,
            "project": p.project,
            "branch": plan.branch,
            "iid": mr["iid"],
            "web_url": mr["web_url"],
            "title": mr["title"],
            "state": mr["state"],
        }
        await self.blocking(self.store.record, p.loc.api_path, entry)
        timings["total"] = time.monotonic() - t0
        self.log.info(
            "Submitted %s as %s!%s (%s; %s)",
            name,
            p.project,
            mr["iid"],
            "created" if created else "updated",
            ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()),
        )
        return {
            "path": p.loc.api_path,
            "branch": plan.branch,
            "commit": commit,
            "mr": mr,
            "created": created,
            "summary": summary,
            "summary_fallback": fallback,
            "gates": p.gates_json(),
        }

    async def _merge_requests(self, creds, project: str) -> gitlab_mr.MergeRequests:
        token, author = await creds
        return gitlab_mr.MergeRequests(self._client(token), project, author.get("username") or self.settings.username)

    def _client(self, token: str):
        """python-gitlab client for this token, kept between requests (its HTTP connection is reused)."""
        s = self.settings
        key = (s.gitlab_url, token)
        if self._gitlab is None or self._gitlab[0] != key:
            self._gitlab = (key, gitlab_client.client(s.gitlab_url, token, timeout=s.gitlab_timeout))
        return self._gitlab[1]

    async def _find_open(self, mrs, branch: str, after: asyncio.Event):
        """The open merge request of ``branch`` (None: none) or LOOK_AGAIN when the lookup failed:
        ``ensure`` then looks again and reports what went wrong."""
        await after.wait()
        try:
            return await self.blocking((await mrs).find_open, branch, timeout=self.settings.gitlab_timeout * 2)
        except Exception as e:
            self.log.debug("Merge request lookup for %s failed (%s); looking again later", branch, e)
            return gitlab_mr.LOOK_AGAIN

    async def _credentials(self, token_source):
        s = self.settings
        try:
            token = await self.blocking(token_source, timeout=s.gitlab_timeout)
            author = await self.blocking(s.identity_source, timeout=s.gitlab_timeout)
        except Exception as e:
            raise ReviewError(
                502,
                f"could not get your GitLab credentials from the hub ({type(e).__name__}: {e}); "
                f"reload JupyterLab or log in to the hub again; {KEPT}",
            ) from None
        return token, author

    async def _summary(
        self,
        g: Git,
        loc: NotebookLocation,
        target: str,
        fetch,
        script: bytes | None = None,
        after: asyncio.Event | None = None,
    ):
        """-> (markdown, fallback used?, the script bytes it describes)."""
        try:
            target_sha, _ = await fetch
        except Exception:
            return "", True, None  # the submit reports the fetch failure
        if after is not None:
            await after.wait()
        script_path = loc.script_repo_path

        def read():
            text = (
                script if script is not None else (loc.script_path.read_bytes() if loc.script_path.is_file() else b"")
            )
            # the notebook's own cells (the paired gate checks they match the script), as the
            # gates read them if the file is unchanged since
            known = self._cells.get(str(loc.path))
            if known is not None and known[0] == signature(loc.path):
                return text, known[1]
            try:
                cells = text_cells(read_notebook(loc))
            except ReviewError:
                cells = None
            return text, cells

        script, new_cells = await self.blocking(read)
        # its own Repo: GitPython's object reader is one git process that threads must not share
        g = await self.blocking(self._git, loc)
        try:
            base = await self.blocking(g.file_at, target_sha, script_path) if target_sha else None
            text, fallback = await self.worker.summarise(
                timeout=self.settings.summary_timeout,
                path=loc.repo_path,
                script_path=script_path,
                target=target,
                base_script=(base or b"").decode("utf-8", "replace"),
                new_script=script.decode("utf-8", "replace"),
                new_cells=new_cells,
                script_diff=functools.partial(g.diff_text, target_sha, script_path, script),
            )
        finally:
            await self.blocking(g.close)
        return text, fallback, script

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
            raise ReviewError(
                502,
                f"could not get your GitLab token from the hub ({type(e).__name__}); reload "
                "JupyterLab or log in to the hub again",
            ) from None
        gl = self._client(token)

        async def one(entry):
            mrs = gitlab_mr.MergeRequests(gl, entry["project"])
            mr, run = await self.blocking(mrs.status, entry["iid"], s.run_status_name, timeout=s.gitlab_timeout * 3)
            return {"path": entry["path"], "branch": entry["branch"], "mr": mr, **({"run": run} if run else {})}

        try:
            found = await asyncio.gather(*(one(e) for e in sorted(entries.values(), key=lambda e: e["path"])))
        except gitlab_mr.GitLabFailure as e:
            raise ReviewError(502, e.message) from None
        except asyncio.TimeoutError:
            raise ReviewError(502, "GitLab did not answer in time; try again in a minute") from None
        return {"submissions": list(found)}
