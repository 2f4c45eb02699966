"""Drive promotion runs through their phases, recording each before and after its side effect.

``Promoter.run_lane`` decides (``decisions.choose_commit``) and starts a run; ``drive`` moves a
run to its end from whatever phase it was left in, asking GitLab for the real state when it
matters (``decisions.next_step``), so a run killed at any point is resumed or repeated
idempotently by ``resume_all`` at start-up. Runs of one lane never overlap (a lock per lane).

A project with ``require_review_run`` promotes only when every merge request merged in the
range has a passed review run of its head commit (``review_decisions.review_gate``, from the
service's own records, never from GitLab's commit statuses, which project members can post
too); otherwise the run fails at once, naming them, and no clean run repeats what failed.

A rollback is a run of kind ``rollback``: the lane's branch gets a new commit on top of its
head whose tree is the recorded commit's tree (``git commit-tree``), the clean run runs on it and
only then is it pushed: a fast-forward like every promotion, so nothing is ever forced and
history keeps what happened. The next forward promotion into that lane needs its source to
contain the rollback commit (merge the lane back), and says so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from traitlets.config import LoggingConfigurable

from . import clean_run, decisions, review_decisions
from .packages import check_project, pip_freeze
from .records import Run, new_run_id, utcnow

MAX_STEPS = 12


class Promoter(LoggingConfigurable):
    """Drives the runs of every lane; made by the service (``PromotionService.promoter_class``)."""

    def __init__(
        self,
        settings,
        store,
        docker_client,
        remote_for,
        artifacts_dir,
        *,
        run_timeout=3600.0,
        audit=None,
        metrics=None,
        executor=None,
        run_limits=None,
        stopping=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.settings = settings
        self.store = store
        self.docker = docker_client
        self.remote_for = remote_for  # project path -> RemoteProject
        self.artifacts_dir = Path(artifacts_dir)
        self.run_timeout = run_timeout
        self.audit = audit or (lambda event, **facts: None)
        self.metrics = metrics
        self.executor = executor
        self.run_limits = run_limits  # None: clean_run.DEFAULT_LIMITS
        self.stopping = stopping  # threading.Event set when the service stops
        self._locks = {}

    def lock(self, project, target):
        return self._locks.setdefault((project, target), asyncio.Lock())

    def busy(self, project, target):
        return self.lock(project, target).locked()

    # --- starting runs ----------------------------------------------------------------------

    async def run_lane(self, project_path, source, trigger="schedule", tick=None):
        """One tick of a lane: promote the source's new head if its clean run passes."""
        project = self.settings.project(project_path)
        lane = project.lane(source)
        async with self.lock(project.path, lane.target):
            pending = await self._finish_pending(project.path, lane.target)
            if pending is not None:
                return pending
            remote = self.remote_for(project.path)
            heads = await remote.fetch(lane.source, lane.target)
            src, dst = heads[lane.source], heads[lane.target]
            ancestor = await remote.is_ancestor(dst, src) if src and dst else True
            choice = decisions.choose_commit(lane.source, lane.target, src, dst, ancestor)
            self.audit(
                "promotion.tick",
                project=project.path,
                source=lane.source,
                target=lane.target,
                trigger=trigger,
                action=choice.action,
                commit=choice.commit,
                reason=choice.reason,
            )
            if choice.action == "skip":
                return None
            # before the run is recorded: a recorded run resumes into its clean run
            unreviewed = (
                await self._unreviewed(project, dst, choice.commit)
                if choice.action == "promote" and project.require_review_run
                else ""
            )
            run = self._new_run(project, lane.source, lane.target, trigger, tick, choice.commit, dst)
            if choice.action == "refuse" or unreviewed:
                return self._finish(run.id, "failed", error=choice.reason if choice.action == "refuse" else unreviewed)
            return await self._drive_locked(run.id)

    async def _unreviewed(self, project, base, commit):
        """'' when every merge request merged between ``base`` and ``commit`` passed its review
        run, else why not (review_decisions.review_gate)."""
        remote = self.remote_for(project.path)
        await remote.fetch_commit(commit)
        shas = set(await remote.commits_between(base, commit))
        merged = [mr for mr in await remote.merged_requests(None) if decisions.merge_request_in_range(mr, shas)]
        verdicts = {
            mr["sha"]: review_decisions.verdict(
                [r.as_record() for r in self.store.review_runs(project=project.path, commit=mr["sha"], limit=20)]
            )
            for mr in merged
            if mr.get("sha")
        }
        return review_decisions.review_gate(merged, verdicts)

    async def rollback(self, project_path, record_id, trigger):
        """Put the lane of record ``record_id`` back to its recorded commit, as a new run (clean run first)."""
        project = self.settings.project(project_path)
        record = self.store.get(record_id)
        if record is None or record.project != project.path or record.status != "promoted":
            raise LookupError(
                f"run {record_id!r} is not a successful promotion of {project.path}; pick a record with status promoted"
            )
        lane = project.lane_into(record.target)
        async with self.lock(project.path, lane.target):
            pending = await self._finish_pending(project.path, lane.target)
            if pending is not None:
                raise RuntimeError(
                    f"run {pending.id} into {lane.target} is still unfinished ({pending.error}); "
                    "it is retried at the next tick, roll back after it"
                )
            remote = self.remote_for(project.path)
            heads = await remote.fetch(lane.target)
            head = heads[lane.target]
            await remote.fetch_commit(record.commit)
            message = (
                f"Roll back {lane.target} to {record.commit[:12]} (promotion record {record.id})\n\n"
                f"Promotion-Rollback-Of: {record.id}\nRequested-By: {trigger}\n"
            )
            commit = await remote.rollback_commit(record.commit, head, message)
            run = self._new_run(
                project,
                lane.source,
                lane.target,
                trigger,
                None,
                commit,
                head,
                kind="rollback",
                rollback_of=record.id,
                gated_commit=record.commit,
            )
            self.audit(
                "promotion.rollback.requested",
                project=project.path,
                target=lane.target,
                run_id=run.id,
                record=record.id,
                commit=record.commit,
                by=trigger,
            )
            return await self._drive_locked(run.id)

    def _new_run(self, project, source, target, trigger, tick, commit, base, **extra):
        run = Run(
            id=new_run_id(),
            project=project.path,
            source=source,
            target=target,
            trigger=trigger,
            tick=tick,
            commit=commit,
            base_commit=base,
            image=project.image,
            parameters=dict(project.parameters),
            seed=project.seed,
            started_at=utcnow(),
            status="running",
            phase="created",
            **extra,
        )
        run.artifacts = str(self.artifacts_dir / run.id)
        self.store.add(run)
        self.audit(
            "promotion.run.started",
            project=project.path,
            source=source,
            target=target,
            run_id=run.id,
            commit=commit,
            trigger=trigger,
            kind=run.kind,
        )
        return run

    # --- driving runs -----------------------------------------------------------------------

    async def resume_all(self):
        """Finish every run a killed service left unfinished (at start-up). Only the containers of
        this service's own unfinished runs are removed: another service on the same Docker host
        (a second hub, say) keeps its running clean runs."""
        unfinished = self.store.unfinished()
        loop = asyncio.get_running_loop()
        for run in unfinished:
            await loop.run_in_executor(self.executor, clean_run.remove_leftovers, self.docker, run.id)
        finished = []
        for run in unfinished:
            self.audit("promotion.run.resumed", run_id=run.id, project=run.project, target=run.target, phase=run.phase)
            async with self.lock(run.project, run.target):
                finished.append(await self._drive_locked(run.id))
        return finished

    async def _finish_pending(self, project, target):
        """Drive this lane's unfinished runs first; return one still unfinished (GitLab down)."""
        for run in self.store.unfinished():
            if run.project == project and run.target == target:
                run = await self._drive_locked(run.id)
                if run.status == "running":
                    return run
        return None

    async def _drive_locked(self, run_id):
        for _ in range(MAX_STEPS):
            run = self.store.get(run_id)
            step, reason = await self._next_step(run)
            if step == "finish":
                return run
            try:
                if step == "fail":
                    return self._finish(run_id, "failed", error=reason)
                await getattr(self, f"_step_{step}")(run)
            except Exception as e:  # GitLab/Docker trouble: recorded, retried at the next tick
                self.log.exception("promotion run %s failed in step %s", run_id, step)
                if step in ("push", "tag", "note"):
                    # The clean run passed and GitLab may have applied the change before failing:
                    # keep the run open; the next tick (or restart) compares with GitLab and
                    # finishes it, so a moved branch always gets its tag.
                    self.audit("promotion.run.stalled", run_id=run_id, step=step, error=str(e))
                    return self.store.update(run_id, error=f"{step} failed, retried at the next tick: {e}")
                return self._finish(run_id, "failed", error=f"{step}: {e}")
        raise RuntimeError(f"promotion run {run_id} did not finish in {MAX_STEPS} steps (a bug)")

    async def _next_step(self, run):
        if run.phase in decisions.FINAL_PHASES or run.phase in ("created", "gating"):
            return decisions.next_step(run.phase, False, None, run.commit, False, False)
        passed = decisions.clean_run_passed(run.notebooks, run.tests, run.packages)
        remote = self.remote_for(run.project)
        head = tag_exists = None
        ancestor = False
        if run.phase in ("gated", "pushing"):
            head = (await remote.heads(run.target))[run.target]
            if head and head != run.commit:
                await remote.fetch(run.target)
                ancestor = await remote.is_ancestor(head, run.commit)
        if run.phase in ("pushed", "tagging"):
            tag_exists = bool(run.tag) and await remote.tag(run.tag) is not None
        return decisions.next_step(run.phase, passed, head, run.commit, ancestor, tag_exists)

    async def _step_clean_run(self, run):
        project = self.settings.project(run.project)
        remote = self.remote_for(run.project)
        self.store.update(run.id, phase="gating")
        await remote.fetch_commit(run.commit)
        source_tar = await remote.archive(run.commit)
        job = clean_run.CleanRunJob.for_project(
            project, run.id, run.artifacts, run_timeout=self.run_timeout, default_limits=self.run_limits
        )
        loop = asyncio.get_running_loop()
        outcome = await asyncio.wait_for(
            loop.run_in_executor(self.executor, self.clean_run, job, source_tar), self.run_timeout + 300
        )
        packages = check_project(project, outcome)  # the admin's packages: policy, if any
        passed = not outcome.error and decisions.clean_run_passed(outcome.notebooks, outcome.tests, packages)
        error = outcome.error or ("" if passed else decisions.first_failure(outcome.notebooks, outcome.tests, packages))
        fields = dict(
            image_id=outcome.image_id,
            image_digest=outcome.image_digest,
            notebooks=outcome.notebooks,
            tests=outcome.tests,
            packages=packages,
            pip_freeze=pip_freeze(outcome.installed),
            log_tail=outcome.log_tail,
            error=error,
        )
        self.audit(
            "promotion.clean_run.finished",
            run_id=run.id,
            project=run.project,
            target=run.target,
            commit=run.commit,
            passed=passed,
            error=error,
            image_digest=outcome.image_digest,
            container_removed=outcome.container_removed,
        )
        if passed:
            self.store.update(run.id, phase="gated", **fields)
        else:
            self.store.update(run.id, **fields)
            self._finish(run.id, "failed", error=error)

    def clean_run(self, job, source_tar):
        """The clean run of ``job`` in a fresh container (blocking: runs in the executor)."""
        return clean_run.execute(self.docker, job, source_tar, stopping=self.stopping)

    async def _step_push(self, run):
        remote = self.remote_for(run.project)
        self.store.update(run.id, phase="pushing")
        await remote.push(run.commit, run.target)
        self.store.update(run.id, phase="pushed")
        self.audit(
            "promotion.branch.moved",
            run_id=run.id,
            project=run.project,
            target=run.target,
            commit=run.commit,
            base=run.base_commit,
        )

    async def _step_tag(self, run):
        remote = self.remote_for(run.project)
        name = run.tag or decisions.tag_name(run.target, utcnow())
        run = self.store.update(run.id, phase="tagging", tag=name)
        existing = await remote.tag(name)
        if existing is None:
            await remote.create_tag(name, run.commit, decisions.tag_message(run.as_record()))
        elif (existing.get("commit") or {}).get("id") != run.commit:
            raise RuntimeError(f"tag {name} exists on another commit; delete it on GitLab or let the next tick retry")
        self.store.update(run.id, phase="tagged")
        self.audit("promotion.tagged", run_id=run.id, project=run.project, tag=name, commit=run.commit)

    async def _step_note(self, run):
        remote = self.remote_for(run.project)
        self.store.update(run.id, phase="noting")
        noted = list(run.noted or [])
        if run.kind == "promotion":
            await remote.fetch_commit(run.commit)
            shas = set(await remote.commits_between(run.base_commit, run.commit))
            project_url = f"{remote.gitlab_url}/{run.project}/-/tags/{run.tag}"
            body = decisions.note_text(run.target, run.tag, run.commit, project_url)
            for mr in await remote.merged_requests(None):
                if decisions.merge_request_in_range(mr, shas):
                    await remote.note_once(mr["iid"], run.tag, body)
                    if mr["iid"] not in noted:
                        noted.append(mr["iid"])
                    self.store.update(run.id, noted=noted)
        self._finish(run.id, "promoted", phase="done", noted=noted)

    def _finish(self, run_id, status, phase=None, **fields):
        phase = phase or ("done" if status == "promoted" else "failed")
        run = self.store.update(run_id, status=status, phase=phase, finished_at=utcnow(), **fields)
        if self.metrics is not None:
            self.metrics.finished(run)
        self.audit(
            f"promotion.run.{status}",
            run_id=run.id,
            project=run.project,
            source=run.source,
            target=run.target,
            commit=run.commit,
            tag=run.tag,
            error=run.error,
            kind=run.kind,
        )
        return run
