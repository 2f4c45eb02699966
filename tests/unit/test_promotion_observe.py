"""The promotion service's metrics (a lane's failing streak and last success, read back at start)
and its audit events in the shared audit file."""

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from jupyterhub_ds import audit
from jupyterhub_ds.promotion.observe import Audit, Metrics, lane_history, promotion_event
from jupyterhub_ds.promotion.scheduler import Lane

pytestmark = pytest.mark.unit

T = datetime(2025, 6, 1, 2, 0, tzinfo=timezone.utc)


def run(status, source="main", target="staging", project="ds/churn", finished_at=T):
    return SimpleNamespace(
        project=project, source=source, target=target, status=status, duration=60.0, finished_at=finished_at
    )


def value(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels)


def test_a_lane_counts_failures_in_a_row_until_it_promotes():
    m = Metrics()
    for status in ("failed", "failed", "failed"):
        m.finished(run(status))
    assert value(m, "jupyterhub_ds_promotion_consecutive_failures", project="ds/churn", lane="main->staging") == 3
    m.finished(run("promoted"))
    assert value(m, "jupyterhub_ds_promotion_consecutive_failures", project="ds/churn", lane="main->staging") == 0
    assert (
        value(m, "jupyterhub_ds_promotion_last_success_timestamp_seconds", project="ds/churn", lane="main->staging")
        == T.timestamp()
    )
    assert (
        value(m, "jupyterhub_ds_promotion_runs_total", project="ds/churn", lane="main->staging", status="failed") == 3
    )


def test_a_restarted_service_reads_streak_and_last_success_back_from_the_records():
    history = [run("running"), run("failed"), run("failed"), run("promoted", finished_at=T), run("failed")]
    assert lane_history(history) == (2, T)
    assert lane_history([run("failed")]) == (1, None)

    class Store:
        def runs(self, project, target, limit):
            return history if target == "staging" else []

    m = Metrics()
    m.seed(Store(), [Lane("ds/churn", "main", "staging", "0 2 * * *"), Lane("ds/churn", "staging", "production", "x")])
    assert value(m, "jupyterhub_ds_promotion_consecutive_failures", project="ds/churn", lane="main->staging") == 2
    assert (
        value(m, "jupyterhub_ds_promotion_last_success_timestamp_seconds", project="ds/churn", lane="main->staging")
        == T.timestamp()
    )
    assert value(m, "jupyterhub_ds_promotion_consecutive_failures", project="ds/churn", lane="staging->production") == 0
    # a run outside the configured lanes adds no streak or last-success series
    m.finished(run("failed", source="review/alice/x", target="main"))
    assert (
        value(m, "jupyterhub_ds_promotion_consecutive_failures", project="ds/churn", lane="review/alice/x->main")
        is None
    )


def test_the_services_facts_become_a_valid_promotion_event():
    event = promotion_event(
        "promotion.tick",
        {
            "project": "ds/churn",
            "source": "main",
            "target": "staging",
            "trigger": "schedule",
            "action": "skip",
            "commit": None,
            "reason": "x" * 3000,
            "extra": {"a": 1},
        },
    )
    assert event == {
        "action": "promotion.tick",
        "project": "ds/churn",
        "source": "main",
        "target": "staging",
        "trigger": "schedule",
        "decision": "skip",
        "reason": "x" * 2000,
        "details": {"extra": "{'a': 1}"},
    }
    eventlog = audit.event_logger()
    eventlog.schemas.validate_event(audit.PROMOTION, event)
    # a review run's events: under promotion., apart from the review events servers report
    review = promotion_event(
        "review.run.queued",
        {
            "run_id": "r1",
            "project": "ds/churn",
            "mr": 7,
            "commit": "a" * 40,
            "trigger": "merge request updated",
            "replaced_by": None,
        },
    )
    assert review["action"] == "promotion.review.run.queued" and review["mr"] == 7
    eventlog.schemas.validate_event(audit.PROMOTION, review)


def test_audit_goes_to_the_log_and_to_the_shared_audit_file(tmp_path, caplog):
    path = tmp_path / "audit.jsonl"
    log = Audit(path=str(path))
    with caplog.at_level("INFO", logger="jupyterhub_ds.promotion.audit"):
        log(
            "promotion.run.promoted",
            run_id="abc",
            project="ds/churn",
            source="main",
            target="staging",
            commit="0" * 40,
            tag="promote/staging/x",
            error="",
            kind="promotion",
        )
    assert '"event": "promotion.run.promoted"' in caplog.text
    [line] = path.read_text().splitlines()
    event = json.loads(line)
    assert event["__schema__"] == audit.PROMOTION and event["action"] == "promotion.run.promoted"
    assert event["run_id"] == "abc" and event["tag"] == "promote/staging/x"
