"""The reproducibility record store (SQLAlchemy 2; SQLite by default, PostgreSQL by URL).

One ``Run`` row per promotion attempt: what was promoted (project, lanes, commit), in what
(image reference, image id and digest, ``pip freeze``), how (parameters, seed), when (start,
end), with what result (status, per-notebook status and duration, failing cell, error, log
tail, tests, package problems) and where it got to (``phase``, for crash recovery; see
``decisions``). Executed notebooks are kept on disk under ``artifacts_dir/<run id>/``.
``LaneState`` keeps, per lane, the last cron tick handled. ``ReviewRun`` is one clean run of a
merge request's head commit (``review_runs``), in a table of its own: a database of an older
version gains it at the next start and its other tables are left as they are.

Calls are short synchronous transactions (SQLite in the service's directory, or a nearby
PostgreSQL), like the hub's own ORM use.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite stores them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; the record store takes aware UTC datetimes")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class _Timed:
    """``duration`` of a run record with ``started_at`` and ``finished_at``."""

    @property
    def duration(self):
        if self.finished_at is None or self.started_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class Base(DeclarativeBase):
    pass


class Run(_Timed, Base):
    __tablename__ = "promotion_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(255))
    target: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="promotion")  # promotion | rollback
    trigger: Mapped[str] = mapped_column(String(255), default="schedule")  # schedule | run-now by X | ...
    tick: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    gated_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)  # rollback: the recorded commit
    base_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)  # target head before
    rollback_of: Mapped[str | None] = mapped_column(String(32), nullable=True)
    image: Mapped[str] = mapped_column(String(255), default="")
    image_id: Mapped[str] = mapped_column(String(128), default="")
    image_digest: Mapped[str] = mapped_column(String(512), default="")
    pip_freeze: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)  # running|promoted|failed
    phase: Mapped[str] = mapped_column(String(16), default="created")
    error: Mapped[str] = mapped_column(Text, default="")
    log_tail: Mapped[str] = mapped_column(Text, default="")
    notebooks: Mapped[list] = mapped_column(JSON, default=list)
    tests: Mapped[dict] = mapped_column(JSON, default=dict)
    packages: Mapped[dict] = mapped_column(JSON, default=dict)
    tag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    noted: Mapped[list] = mapped_column(JSON, default=list)  # MR iids noted
    artifacts: Mapped[str] = mapped_column(String(1024), default="")

    def as_record(self):
        """The record as plain JSON-able data (API, tag message)."""
        return {
            "run_id": self.id,
            "project": self.project,
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "trigger": self.trigger,
            "tick": _iso(self.tick),
            "commit": self.commit,
            "gated_commit": self.gated_commit,
            "base_commit": self.base_commit,
            "rollback_of": self.rollback_of,
            "image": self.image,
            "image_id": self.image_id,
            "image_digest": self.image_digest,
            "pip_freeze": self.pip_freeze,
            "parameters": self.parameters,
            "seed": self.seed,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration": self.duration,
            "status": self.status,
            "phase": self.phase,
            "error": self.error,
            "log_tail": self.log_tail,
            "notebooks": self.notebooks,
            "tests": self.tests,
            "packages": self.packages,
            "tag": self.tag,
            "noted": self.noted,
            "artifacts": self.artifacts,
        }


class LaneState(Base):
    __tablename__ = "promotion_lanes"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    last_tick: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


REVIEW_STATES = ("queued", "running", "passed", "failed", "canceled")
REVIEW_OPEN = ("queued", "running")


class ReviewRun(_Timed, Base):
    """One review run: the changed notebooks of a merge request's head commit in a clean container."""

    __tablename__ = "promotion_review_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project: Mapped[str] = mapped_column(String(255), index=True)
    mr_iid: Mapped[int] = mapped_column(Integer, index=True)
    source_branch: Mapped[str] = mapped_column(String(255), default="")
    target_branch: Mapped[str] = mapped_column(String(255), default="")
    commit: Mapped[str] = mapped_column(String(64), index=True)
    base_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)  # merge base with the target
    trigger: Mapped[str] = mapped_column(String(255), default="merge request updated")
    image: Mapped[str] = mapped_column(String(255), default="")
    image_id: Mapped[str] = mapped_column(String(128), default="")
    image_digest: Mapped[str] = mapped_column(String(512), default="")
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # REVIEW_STATES
    notebooks: Mapped[list] = mapped_column(JSON, default=list)  # per notebook: path, status, cell, error, html
    skipped: Mapped[list] = mapped_column(JSON, default=list)  # changed notebooks beyond the limit, not run
    packages: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    log_tail: Mapped[str] = mapped_column(Text, default="")
    artifacts: Mapped[str] = mapped_column(String(1024), default="")
    note_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the MR note it wrote

    def as_record(self):
        return {
            "run_id": self.id,
            "project": self.project,
            "mr_iid": self.mr_iid,
            "source_branch": self.source_branch,
            "target_branch": self.target_branch,
            "commit": self.commit,
            "base_commit": self.base_commit,
            "trigger": self.trigger,
            "image": self.image,
            "image_id": self.image_id,
            "image_digest": self.image_digest,
            "parameters": self.parameters,
            "seed": self.seed,
            "queued_at": _iso(self.queued_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration": self.duration,
            "status": self.status,
            "notebooks": self.notebooks,
            "skipped": self.skipped,
            "packages": self.packages,
            "error": self.error,
            "log_tail": self.log_tail,
            "note_id": self.note_id,
        }


def _iso(dt):
    return None if dt is None else dt.isoformat()


def new_run_id():
    return uuid.uuid4().hex[:16]


class Store:
    def __init__(self, url):
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        self.engine = create_engine(url, **kwargs)
        Base.metadata.create_all(self.engine)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def add(self, run):
        """Add a run (a promotion ``Run`` or a ``ReviewRun``)."""
        with self.session.begin() as s:
            s.add(run)
        return run

    def update(self, run_id, model=None, **changes):
        """Set fields of a run and commit (one transaction per recorded step); ``model``:
        ``ReviewRun`` for a review run."""
        model = model or Run
        with self.session.begin() as s:
            run = s.get(model, run_id)
            if run is None:
                kind = "review run" if model is ReviewRun else "promotion run"
                raise LookupError(f"no {kind} {run_id!r} in the record store")
            for key, value in changes.items():
                setattr(run, key, value)
        return run

    def get(self, run_id, model=None):
        with self.session() as s:
            return s.get(model or Run, run_id)

    # --- review runs -----------------------------------------------------------------------

    def update_review(self, run_id, **changes):
        return self.update(run_id, ReviewRun, **changes)

    def get_review(self, run_id):
        return self.get(run_id, ReviewRun)

    def review_runs(self, project=None, mr_iid=None, commit=None, status=None, limit=50):
        """Review runs, newest first (``status``: one state or a tuple of them)."""
        q = select(ReviewRun).order_by(ReviewRun.queued_at.desc()).limit(limit)
        if project:
            q = q.where(ReviewRun.project == project)
        if mr_iid is not None:
            q = q.where(ReviewRun.mr_iid == mr_iid)
        if commit:
            q = q.where(ReviewRun.commit == commit)
        if status:
            q = q.where(ReviewRun.status.in_((status,) if isinstance(status, str) else tuple(status)))
        with self.session() as s:
            return list(s.scalars(q))

    def review_queue(self, limit=1000):
        """Queued review runs, oldest first."""
        q = select(ReviewRun).where(ReviewRun.status == "queued").order_by(ReviewRun.queued_at).limit(limit)
        with self.session() as s:
            return list(s.scalars(q))

    def runs(self, project=None, target=None, limit=50, status=None):
        q = select(Run).order_by(Run.started_at.desc()).limit(limit)
        if project:
            q = q.where(Run.project == project)
        if target:
            q = q.where(Run.target == target)
        if status:
            q = q.where(Run.status == status)
        with self.session() as s:
            return list(s.scalars(q))

    def unfinished(self):
        q = select(Run).where(Run.status == "running").order_by(Run.started_at)
        with self.session() as s:
            return list(s.scalars(q))

    def promoted(self, project, target, commit):
        q = select(Run).where(
            Run.project == project, Run.target == target, Run.commit == commit, Run.status == "promoted"
        )
        with self.session() as s:
            return s.scalars(q).first()

    def last_ticks(self):
        with self.session() as s:
            return {row.key: row.last_tick for row in s.scalars(select(LaneState))}

    def set_last_tick(self, key, tick):
        with self.session.begin() as s:
            row = s.get(LaneState, key)
            if row is None:
                s.add(LaneState(key=key, last_tick=tick))
            else:
                row.last_tick = tick


def utcnow():
    return datetime.now(timezone.utc)
