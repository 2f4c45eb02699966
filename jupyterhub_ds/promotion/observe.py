"""What IT sees of the promotion service: Prometheus metrics and structured audit events.

Metrics live in the service's own registry (served at ``<prefix>metrics``): runs by lane and
status, run duration, the time of each lane's last successful promotion, and review runs by
project and status with their duration. Audit events are
one JSON object per log line on the ``jupyterhub_ds.promotion.audit`` logger (``event``,
``time`` and the facts: who, project, lanes, commit, run id, tag), never carrying tokens.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

AUDIT_LOGGER = "jupyterhub_ds.promotion.audit"


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        labels = ["project", "lane"]
        self.runs = Counter("jupyterhub_ds_promotion_runs", "Promotion runs finished, by lane and status",
                            labels + ["status"], registry=self.registry)
        self.duration = Histogram("jupyterhub_ds_promotion_run_duration_seconds", "Duration of promotion runs",
                                  labels + ["status"], registry=self.registry,
                                  buckets=(10, 30, 60, 120, 300, 600, 1800, 3600, 7200, float("inf")))
        self.review_runs = Counter("jupyterhub_ds_review_runs", "Review runs of merge requests finished, by status",
                                   ["project", "status"], registry=self.registry)
        self.review_duration = Histogram("jupyterhub_ds_review_run_duration_seconds", "Duration of review runs",
                                         ["project"], registry=self.registry,
                                         buckets=(10, 30, 60, 120, 300, 600, 1800, float("inf")))
        self.last_success = Gauge("jupyterhub_ds_promotion_last_success_timestamp_seconds",
                                  "Unix time of the lane's last successful promotion", labels, registry=self.registry)

    def finished(self, run):
        lane = f"{run.source}->{run.target}"
        self.runs.labels(run.project, lane, run.status).inc()
        if run.duration is not None:
            self.duration.labels(run.project, lane, run.status).observe(run.duration)
        if run.status == "promoted" and run.finished_at is not None:
            self.last_success.labels(run.project, lane).set(run.finished_at.timestamp())


    def review_finished(self, run):
        self.review_runs.labels(run.project, run.status).inc()
        if run.duration is not None:
            self.review_duration.labels(run.project).observe(run.duration)


class Audit:
    def __init__(self, logger=None):
        self.log = logger or logging.getLogger(AUDIT_LOGGER)

    def __call__(self, event, **facts):
        line = {"event": event, "time": datetime.now(timezone.utc).isoformat(), **facts}
        self.log.info(json.dumps(line, sort_keys=True, default=str))
        return line
