"""What IT sees of the promotion service: Prometheus metrics and structured audit events.

Metrics live in the service's own registry (served at ``<prefix>metrics``, behind
``read:metrics``):

- ``jupyterhub_ds_promotion_runs_total{project, lane, status}`` and
  ``jupyterhub_ds_promotion_run_duration_seconds``: runs finished;
- ``jupyterhub_ds_promotion_last_success_timestamp_seconds{project, lane}``: the lane's last
  successful promotion (what "no promotion for D days" alerts on);
- ``jupyterhub_ds_promotion_consecutive_failures{project, lane}``: runs failed in a row since
  the lane's last success (what "a lane failing N times in a row" alerts on);
- ``jupyterhub_ds_review_runs_total{project, status}`` and
  ``jupyterhub_ds_review_run_duration_seconds{project}``: review runs of merge requests.

The last two are read back from the record store at start (:meth:`Metrics.seed`), so a
restarted service does not forget them, and are kept for the configured lanes only.

Audit events are one JSON object per log line on the ``jupyterhub_ds.promotion.audit`` logger
(``event``, ``time`` and the facts: who, project, lanes, commit, run id, tag), and, when the
hub hands the service the audit file (``JUPYTERHUB_DS_AUDIT_PATH``), also versioned events of
the ``promotion`` schema in that file, next to the hub's (:mod:`jupyterhub_ds.audit`). Never a
token.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .. import audit

AUDIT_LOGGER = "jupyterhub_ds.promotion.audit"
SEED_RUNS = 200  # runs per lane read back at start: enough to count a long failing streak


def lane_label(source, target):
    return f"{source}->{target}"


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        labels = ["project", "lane"]
        self.runs = Counter(
            "jupyterhub_ds_promotion_runs",
            "Promotion runs finished, by lane and status",
            labels + ["status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "jupyterhub_ds_promotion_run_duration_seconds",
            "Duration of promotion runs",
            labels + ["status"],
            registry=self.registry,
            buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 7200, float("inf")),
        )
        self.review_runs = Counter(
            "jupyterhub_ds_review_runs",
            "Review runs of merge requests finished, by status",
            ["project", "status"],
            registry=self.registry,
        )
        self.review_duration = Histogram(
            "jupyterhub_ds_review_run_duration_seconds",
            "Duration of review runs",
            ["project"],
            registry=self.registry,
            buckets=(10, 30, 60, 120, 300, 600, 1800, float("inf")),
        )
        self.last_success = Gauge(
            "jupyterhub_ds_promotion_last_success_timestamp_seconds",
            "Unix time of the lane's last successful promotion",
            labels,
            registry=self.registry,
        )
        self.consecutive_failures = Gauge(
            "jupyterhub_ds_promotion_consecutive_failures",
            "Runs of the lane that failed in a row since its last success",
            labels,
            registry=self.registry,
        )
        self.lanes = None  # {(project, source, target)} once seeded: the series kept per lane

    def _lane_kept(self, run):
        return self.lanes is None or (run.project, run.source, run.target) in self.lanes

    def finished(self, run):
        lane = lane_label(run.source, run.target)
        self.runs.labels(run.project, lane, run.status).inc()
        if run.duration is not None:
            self.duration.labels(run.project, lane, run.status).observe(run.duration)
        if not self._lane_kept(run):
            return
        if run.status == "promoted":
            self.consecutive_failures.labels(run.project, lane).set(0)
            if run.finished_at is not None:
                self.last_success.labels(run.project, lane).set(run.finished_at.timestamp())
        elif run.status == "failed":
            self.consecutive_failures.labels(run.project, lane).inc()

    def review_finished(self, run):
        self.review_runs.labels(run.project, run.status).inc()
        if run.duration is not None:
            self.review_duration.labels(run.project).observe(run.duration)

    def seed(self, store, lanes):
        """Read each configured lane's last success and failing streak back from the record store."""
        self.lanes = {(lane.project, lane.source, lane.target) for lane in lanes}
        for project, source, target in sorted(self.lanes):
            runs = [r for r in store.runs(project=project, target=target, limit=SEED_RUNS) if r.source == source]
            streak, success = lane_history(runs)
            label = lane_label(source, target)
            self.consecutive_failures.labels(project, label).set(streak)
            if success is not None:
                self.last_success.labels(project, label).set(success.timestamp())


def lane_history(runs):
    """``(failed in a row, finish time of the last success or None)`` of a lane's runs, newest
    first (runs still going are skipped). Pure."""
    streak, success = 0, None
    for run in runs:
        if run.status == "failed" and success is None:
            streak += 1
        elif run.status == "promoted":
            success = run.finished_at
            break
    return streak, success


# facts of the service's audit calls and the promotion schema's field they go to
_RENAMED = {"action": "decision", "by": "trigger"}
_TEXT = {
    "user": 255,
    "project": 255,
    "source": 255,
    "target": 255,
    "run_id": 64,
    "record": 64,
    "commit": 64,
    "base": 64,
    "kind": 32,
    "trigger": 255,
    "decision": 32,
    "status": 32,
    "phase": 32,
    "step": 32,
    "tag": 255,
    "image_digest": 512,
    "reason": 2000,
    "error": 2000,
}
_FLAGS = ("passed", "container_removed")
_NUMBERS = ("mr",)
MAX_DETAILS = 20


def promotion_event(event, facts):
    """The versioned ``promotion`` audit event of one of the service's audit calls (pure): its
    name under ``promotion.`` (``review.run.queued`` -> ``promotion.review.run.queued``: a review
    run's, not a server's review event), the schema's fields as they are (text cut to the
    schema's length), other facts as text in ``details``."""
    out, details = {"action": event if event.startswith("promotion.") else f"promotion.{event}"}, {}
    for key, value in facts.items():
        key = _RENAMED.get(key, key)
        if value is None:
            continue
        if key in _TEXT:
            out[key] = str(value)[: _TEXT[key]]
        elif key in _FLAGS:
            out[key] = bool(value)
        elif key in _NUMBERS and str(value).isdigit():
            out[key] = int(value)
        elif len(details) < MAX_DETAILS:
            details[str(key)[:64]] = str(value)[:500]
    if details:
        out["details"] = details
    return out


class Audit:
    """``audit(event, **facts)``: a JSON log line, and a versioned event in the audit file
    (``path``, the hub's ``audit.path``) when there is one."""

    def __init__(self, logger=None, path=None):
        self.log = logger or logging.getLogger(AUDIT_LOGGER)
        self.events = audit.event_logger(path) if path else None

    def __call__(self, event, **facts):
        line = {"event": event, "time": datetime.now(timezone.utc).isoformat(), **facts}
        self.log.info(json.dumps(line, sort_keys=True, default=str))
        if self.events is not None:
            audit.emit(self.events, audit.PROMOTION, promotion_event(event, facts))
        return line
