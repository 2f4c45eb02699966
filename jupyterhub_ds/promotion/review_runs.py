"""Review runs: every merge request's changed notebooks, run in a clean container, shown in GitLab.

**How the service learns of a submit.** It asks GitLab, and nobody else: every
``poll_interval`` seconds it lists the open merge requests of each configured project updated
since its last look (one page, ``poll_page``), and offers each head commit it has not run.
"Submit for review" updates the merge request, so the next poll sees it; so does a push from
anywhere else. Nothing a user's container says decides what runs or where: the project is a
configured one, the merge request and its head commit are GitLab's answer. An admin may ask
for a run of one merge request now (``request``, ``POST api/review-runs``).

**What runs.** The notebooks the merge request changes at its head commit: the files added or
modified between the merge base with the target branch and the head (``git diff`` in the
service's cache, so exactly that commit's changes), ``.ipynb`` files and jupytext py:percent
scripts (``review_decisions.notebooks_to_run``), at most ``max_notebooks``. They run through
the promotion's own clean run (``Promoter.clean_run``: the project's pinned image, limits with
the service's ``run_limits`` defaults, parameters, seed, cell timeout, network setting and
read-only volumes), without the project's tests.

**Queue.** Runs wait in the record store (status ``queued``); at most ``concurrency`` run at
once, ``per_project`` per project; a newer commit of a merge request cancels its queued runs
(a running one finishes); at most ``queue_limit`` wait. A service stopped mid-run queues the
run again at its next start.

**What GitLab shows.** The commit status ``jupyterhub-ds/run`` of the head commit (pending when
queued, running, success or failed, canceled when replaced) links the run's page; one note on
the merge request (found again by its marker, edited in place) says what passed or which cell
failed with which error, and links the executed notebooks, rendered as HTML
(``render.render_notebook``). The pages are served to people who can read the project on
GitLab (``may_read``), asked of GitLab with the service's own token.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from traitlets import Float, Integer, Unicode
from traitlets.config import LoggingConfigurable

from . import review_decisions as decide
from .clean_run import CleanRunJob
from .packages import check_project
from .records import ReviewRun, new_run_id, utcnow
from .render import RenderError, render_notebook

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# each look also reads what was updated this long before the last one it saw: an update GitLab
# stamped just before but committed just after that look is not missed
POLL_MARGIN = timedelta(seconds=30)
PROBE_LIMIT = 200  # changed .py files read to tell whether they are notebooks
READERS_CACHED = 1024


class QueueFull(Exception):
    """``queue_limit`` runs wait already."""


def _gitlab_time(value):
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class ReviewRuns(LoggingConfigurable):
    """The review runs of every configured project; made by the service, configured as
    ``c.ReviewRuns.*``."""

    concurrency = Integer(
        2,
        help="""Review runs at once, in all projects (each is a clean-run
        container with the project's limits).""",
    ).tag(config=True)

    per_project = Integer(1, help="Review runs of one project at once.").tag(config=True)

    queue_limit = Integer(
        100,
        help="""Runs that may wait; when it is reached, new merge-request
        commits are not queued (the next poll offers them again).""",
    ).tag(config=True)

    poll_interval = Float(
        15.0,
        help="""Seconds between looks at the open merge requests of the
        configured projects (one GitLab request per project); 0: never (only admins start runs).""",
    ).tag(config=True)

    poll_lookback = Float(
        600.0,
        help="""At start, how far back (seconds) merge requests count as
        updated: older ones get a run when they are next updated, or when an admin asks.""",
    ).tag(config=True)

    poll_page = Integer(100, help="Merge requests read per project and poll (one page).").tag(config=True)

    max_notebooks = Integer(
        20,
        help="""Changed notebooks one review run executes; more are named in
        the note as not run.""",
    ).tag(config=True)

    run_timeout = Float(
        1800.0,
        help="""Seconds a review run's container may take before it is killed
        (cells are bounded by each project's cell_timeout too).""",
    ).tag(config=True)

    status_name = Unicode(decide.STATUS_NAME, help="Name of the commit status on GitLab.").tag(config=True)

    reader_access_level = Integer(
        20,
        help="""Least GitLab access level in the project (directly,
        through a group or inherited) that may see a run's pages: 20 Reporter, who can read the
        code of a private project.""",
    ).tag(config=True)

    reader_cache_seconds = Float(
        60.0,
        help="""Seconds GitLab's answer on who may read a project is
        reused (a member removed in GitLab loses access to the pages within this time).""",
    ).tag(config=True)

    def __init__(
        self,
        settings,
        store,
        promoter,
        remote_for,
        artifacts_dir,
        *,
        public_url="",
        audit=None,
        metrics=None,
        executor=None,
        stopping=None,
        track=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.settings = settings
        self.store = store
        self.promoter = promoter  # its clean_run runs the container; tests replace it there
        self.remote_for = remote_for
        self.artifacts_dir = Path(artifacts_dir)
        self.public_url = public_url if not public_url or public_url.endswith("/") else public_url + "/"
        self.audit = audit or (lambda event, **facts: None)
        self.metrics = metrics
        self.executor = executor
        self.stopping = stopping
        self.track = track or (lambda task: task)
        self._running = {}  # run id -> (project, task)
        self._offering = asyncio.Lock()
        self._since = {}  # project -> newest updated_at seen by a poll
        self._readers = OrderedDict()  # (project, user) -> (may read, when asked)

    # --- URLs ---------------------------------------------------------------------------------

    def run_url(self, run_id):
        return f"{self.public_url}review-runs/{run_id}"

    def notebook_url(self, run_id, index):
        return f"{self.run_url(run_id)}/notebooks/{index}"

    # --- learning of merge requests -----------------------------------------------------------

    async def poll_loop(self, stop):
        while self.poll_interval > 0 and not stop.is_set():
            try:
                await self.poll_once()
            except Exception:  # keep polling; the error is in the log
                self.log.exception("looking for updated merge requests failed")
            try:
                await asyncio.wait_for(stop.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass

    async def poll_once(self, now=None):
        """Offer the head commit of every open merge request updated since the last look."""
        now = now or utcnow()
        offered = []
        for project in self.settings.projects:
            if not project.review_runs:
                continue
            since = self._since.get(project.path) or now - timedelta(seconds=self.poll_lookback)
            try:
                mrs = await self.remote_for(project.path).open_merge_requests(
                    updated_after=(since - POLL_MARGIN).isoformat(), limit=self.poll_page
                )
            except Exception as e:  # GitLab down: the next poll looks again from the same time
                self.log.warning("could not list the merge requests of %s: %s", project.path, e)
                continue
            for mr in mrs:  # least recently updated first: the queue keeps GitLab's order
                try:
                    offered.append(await self.offer(project, mr, "merge request updated"))
                except QueueFull as e:
                    self.log.warning("%s", e)
                    break
                # the next look goes on from here (a page's worth at a time, none skipped)
                since = max(since, _gitlab_time(mr.get("updated_at")) or since)
            self._since[project.path] = since
        return [r for r in offered if r is not None]

    async def request(self, project_path, iid, trigger):
        """An admin asks for a run of merge request ``iid`` now (again, if its head already ran)."""
        project = self.settings.project(project_path)
        if not project.review_runs:
            raise LookupError(f"review runs are off for {project.path} (review_runs: false in the admin YAML)")
        mr = await self.remote_for(project.path).merge_request(iid)
        if mr is None:
            raise LookupError(f"{project.path} has no merge request !{iid} on GitLab")
        return await self.offer(project, mr, trigger, force=True)

    async def offer(self, project, mr, trigger, force=False):
        """Queue a run of the merge request's head commit unless it ran (or waits) already;
        cancel the merge request's queued runs of older commits. Returns the run's record."""
        sha, iid = mr.get("sha"), int(mr["iid"])
        if not sha:
            return None  # a merge request without a source branch: nothing to run
        async with self._offering:
            runs = [r.as_record() for r in self.store.review_runs(project=project.path, mr_iid=iid, limit=200)]
            done = decide.already_done(runs, sha, force)
            if done is not None:
                return done
            cancel = decide.to_cancel(runs, sha)
            if len(self.store.review_queue(limit=self.queue_limit + 1)) - len(cancel) >= self.queue_limit:
                raise QueueFull(
                    f"{self.queue_limit} review runs wait already (ReviewRuns.queue_limit); "
                    f"{project.path}!{iid} at {sha[:12]} is offered again at the next poll"
                )
            for run_id in cancel:  # recorded before anything awaits: no dispatcher starts them now
                self.store.update_review(
                    run_id, status="canceled", finished_at=utcnow(), error=f"a newer commit {sha[:12]} replaced it"
                )
            run = ReviewRun(
                id=new_run_id(),
                project=project.path,
                mr_iid=iid,
                commit=sha,
                trigger=trigger,
                source_branch=mr.get("source_branch") or "",
                target_branch=mr.get("target_branch") or "",
                image=project.image,
                parameters=dict(project.parameters),
                seed=project.seed,
                queued_at=utcnow(),
                status="queued",
                notebooks=[],
                skipped=[],
                packages={},
            )
            run.artifacts = str(self.artifacts_dir / f"review-{run.id}")
            for run_id in cancel:
                self.audit("review.run.canceled", run_id=run_id, project=project.path, mr=iid, replaced_by=sha)
                await self._post_status(self.store.get_review(run_id))
            # GitLab hears "pending" before the run is in the queue, so never after "running"
            await self._post_status(run)
            self.store.add(run)
            self.audit("review.run.queued", run_id=run.id, project=project.path, mr=iid, commit=sha, trigger=trigger)
        self.start_ready()
        return run.as_record()

    # --- the queue ----------------------------------------------------------------------------

    def start_ready(self):
        """Start the queued runs the limits allow (never while the service stops)."""
        if self.stopping is not None and self.stopping.is_set():
            return []
        queued = [(r.id, r.project) for r in self.store.review_queue()]
        running = [project for project, _ in self._running.values()]
        started = decide.runs_to_start(queued, running, self.concurrency, self.per_project)
        for run_id in started:
            run = self.store.update_review(run_id, status="running", started_at=utcnow())
            task = asyncio.ensure_future(self._execute(run_id))
            self._running[run_id] = (run.project, task)
            self.track(task)
        return started

    def requeue_interrupted(self):
        """At start: runs a stopped service left running wait again (their containers are gone)."""
        for run in self.store.review_runs(status="running", limit=1000):
            self.store.update_review(run.id, status="queued", started_at=None)
            self.audit("review.run.requeued", run_id=run.id, project=run.project, mr=run.mr_iid)

    def running_ids(self):
        return list(self._running)

    async def _execute(self, run_id):
        run = self.store.get_review(run_id)
        try:
            await self._post_status(run)
            fields = await self._run(run)
        except asyncio.CancelledError:
            raise  # the service stops: the run waits again at the next start
        except Exception as e:  # git, GitLab or Docker trouble: the run failed, saying where
            self.log.exception("review run %s failed", run_id)
            fields = {"status": "failed", "error": f"{type(e).__name__}: {e or 'no answer in time'}"}
        finally:
            self._running.pop(run_id, None)
        try:
            run = self.store.update_review(run_id, finished_at=utcnow(), **fields)
            self.audit(
                "review.run.finished",
                run_id=run.id,
                project=run.project,
                mr=run.mr_iid,
                commit=run.commit,
                status=run.status,
                error=run.error,
            )
            if self.metrics is not None:
                self.metrics.review_finished(run)
            await self._post_status(run)
            await self._write_note(run)
        finally:
            self.start_ready()

    async def _run(self, run):
        """The run itself -> the fields of its record at the end."""
        project = self.settings.project(run.project)
        remote = self.remote_for(run.project)
        await remote.fetch_commit(run.commit)
        target = (await remote.fetch(run.target_branch)).get(run.target_branch) if run.target_branch else None
        base = await remote.merge_base(target, run.commit) if target else None
        changed = await remote.changed_paths(base or EMPTY_TREE, run.commit)
        percent = set()
        for path in [p for p in sorted(changed) if p.endswith(".py")][:PROBE_LIMIT]:
            if decide.is_percent_script(await remote.script_text(run.commit, path) or ""):
                percent.add(path)
        chosen, skipped = decide.notebooks_to_run(changed, percent, self.max_notebooks)
        self.store.update_review(run.id, base_commit=base, skipped=skipped)
        if not chosen:
            return {"status": "passed", "notebooks": []}
        source_tar = await remote.archive(run.commit)
        job = CleanRunJob.for_project(
            project,
            run.id,
            run.artifacts,
            notebooks=chosen,
            run_timeout=self.run_timeout,
            default_limits=self.promoter.run_limits,
            run_tests=False,
        )
        loop = asyncio.get_running_loop()
        try:  # (the clean run kills its container at run_timeout; this is the bound on the thread)
            outcome = await asyncio.wait_for(
                loop.run_in_executor(self.executor, self.promoter.clean_run, job, source_tar), self.run_timeout + 300
            )
        except asyncio.TimeoutError:
            return {
                "status": "failed",
                "error": f"the review run did not finish within {self.run_timeout + 300:.0f}s; "
                "raise ReviewRuns.run_timeout or speed up the notebooks",
            }
        packages = check_project(project, outcome)
        notebooks = [dict(nb) for nb in outcome.notebooks]
        for index, nb in enumerate(notebooks):
            await self._render(run, index, nb)
        passed = not outcome.error and bool(notebooks) and decide.review_passed(notebooks, packages)
        error = outcome.error or ("" if passed else decide.first_failure(notebooks, packages))
        return {
            "status": "passed" if passed else "failed",
            "notebooks": notebooks,
            "packages": packages,
            "error": error,
            "log_tail": outcome.log_tail,
            "image_id": outcome.image_id,
            "image_digest": outcome.image_digest,
        }

    def html_path(self, run, index):
        return Path(run.artifacts) / "html" / f"{index}.html"

    async def _render(self, run, index, nb):
        """Keep the executed notebook ``index`` as HTML (``nb["html"]``: whether it was)."""
        executed = Path(run.artifacts) / "out" / "notebooks" / (nb["path"].rsplit(".", 1)[0] + ".ipynb")
        nb["html"] = False
        if not executed.is_file():
            return
        target = self.html_path(run, index)

        def render():
            html = render_notebook(executed.read_bytes(), f"{nb['path']} at {run.commit[:12]}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html, encoding="utf-8")

        try:
            await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(self.executor, render), 300)
            nb["html"] = True
        except (RenderError, asyncio.TimeoutError, OSError) as e:
            nb["html_error"] = str(e) or "rendering took longer than 300 s"
            self.log.warning("review run %s: %s not rendered: %s", run.id, nb["path"], nb["html_error"])

    # --- what GitLab shows ----------------------------------------------------------------------

    async def _post_status(self, run):
        state, description = decide.gitlab_status(run.as_record())
        target = self.run_url(run.id) if self.public_url.startswith(("http://", "https://")) else None
        try:
            await self.remote_for(run.project).set_status(
                run.commit,
                state,
                name=self.status_name,
                ref=run.source_branch or None,
                target_url=target,
                description=description,
            )
        except Exception as e:  # GitLab refused or is down: the run goes on, the next state may land
            self.log.warning("commit status %s of %s@%s not set: %s", state, run.project, run.commit[:12], e)

    async def _write_note(self, run):
        if run.status not in ("passed", "failed"):
            return
        earlier = next(
            (r.note_id for r in self.store.review_runs(project=run.project, mr_iid=run.mr_iid, limit=50) if r.note_id),
            None,
        )
        body = decide.note_text(run.as_record(), self.run_url(run.id), lambda i: self.notebook_url(run.id, i))
        try:
            note_id = await self.remote_for(run.project).upsert_note(
                run.mr_iid, decide.NOTE_MARKER, body, known_id=earlier
            )
        except Exception as e:  # the next run writes it
            self.log.warning("note on %s!%s not written: %s", run.project, run.mr_iid, e)
            return
        self.store.update_review(run.id, note_id=note_id)

    # --- who may read a run ---------------------------------------------------------------------

    async def may_read(self, username, project_path):
        """Whether the hub user ``username`` (their GitLab username) can read the project on GitLab,
        asked with the service's own token (members/all), cached ``reader_cache_seconds``."""
        key = (project_path, username.lower())
        now = time.monotonic()
        hit = self._readers.get(key)
        if hit is not None and now - hit[1] < self.reader_cache_seconds:
            return hit[0]
        level = await self.remote_for(project_path).reader_access(username)
        allowed = level >= self.reader_access_level
        self._readers[key] = (allowed, now)
        self._readers.move_to_end(key)
        while len(self._readers) > READERS_CACHED:
            self._readers.popitem(last=False)
        return allowed
