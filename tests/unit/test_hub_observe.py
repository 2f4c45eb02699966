"""The hub's metrics and audit hooks, on plain data: group and admin changes, admin requests,
spawn outcomes, Docker stats per profile, review events from servers, the rate bound."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from jupyterhub_ds import metrics
from jupyterhub_ds.audit import SCHEMA_DIR
from jupyterhub_ds.audit.hub import AuditTrail, admin_request_event, membership_changes

pytestmark = pytest.mark.unit


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    "before, after, was_admin, is_admin, actions",
    [
        ([], ["data-science"], False, False, ["groups.changed"]),  # a first login
        (["a", "b"], ["b", "a"], False, False, []),
        (["a"], ["a", "admins"], False, True, ["groups.changed", "admin.granted"]),
        (["a", "admins"], ["a"], True, False, ["groups.changed", "admin.revoked"]),
        (["a"], ["a"], True, True, []),
    ],
)
def test_a_login_or_refresh_names_what_it_changed(before, after, was_admin, is_admin, actions):
    events = membership_changes("alice", before, after, was_admin, is_admin)
    assert [e["action"] for e in events] == actions
    if "groups.changed" in actions:
        assert events[0]["added"] == sorted(set(after) - set(before))
        assert events[0]["removed"] == sorted(set(before) - set(after))


@pytest.mark.parametrize(
    "method, path, actor, kind, expected",
    [
        ("POST", "/hub/api/users/alice/server", "bob", "user", {"user": "alice"}),  # an admin starts alice's
        ("DELETE", "/hub/api/groups/data-science/users", "test-admin", "service", {}),
        ("POST", "/hub/api/users/alice/server", "alice", "user", None),  # her own server: audited as a spawn
        ("POST", "/hub/api/users/alice/tokens", "alice", "user", None),
        ("GET", "/hub/api/users", "bob", "user", None),  # reading changes nothing
        ("POST", "/hub/api/users/alice/activity", "alice", "user", None),
        ("POST", "/hub/api/oauth2/token", "svc", "service", None),
        ("POST", "/hub/api/jupyterhub-ds/users/alice/events", "alice", "user", None),
        ("POST", "/hub/login", "bob", "user", None),  # not the REST API
        ("POST", "/hub/api/users/alice/server", None, "user", None),  # nobody identified
    ],
)
def test_admin_actions_are_changes_through_the_rest_api_for_someone_else(method, path, actor, kind, expected):
    event = admin_request_event(method, path, 201, actor, kind)
    if expected is None:
        assert event is None
    else:
        assert event == {
            "action": "admin.request",
            "actor": actor,
            "actor_kind": kind,
            "method": method,
            "path": path,
            "status": 201,
            **expected,
        }


def test_spawns_end_in_success_when_the_server_answers_and_in_failure_when_stopped_first():
    clock = iter([0.0, 4.5, 10.0, 20.0, 21.0, 30.0]).__next__
    tracker = metrics.SpawnTracker(clock=clock)
    tracker.starting(("alice", ""), {"profile": "small"})  # 0.0
    assert tracker.answered(("alice", "")) == ({"profile": "small"}, 4.5)
    assert tracker.answered(("alice", "")) is None  # counted once
    assert tracker.stopped(("alice", "")) == ("stop", {"profile": "small"}, 10.0)
    tracker.starting(("bob", ""), {"profile": "large"})  # 20.0
    assert tracker.stopped(("bob", "")) == ("failure", {"profile": "large"}, 1.0)
    assert tracker.stopped(("carol", "")) is None  # started before the hub restarted


def test_docker_stats_are_summed_per_profile():
    inspect = {"HostConfig": {"NanoCpus": 2_000_000_000, "Memory": 2 * 1024**3}}
    assert metrics.limits_of(inspect) == (2.0, 2 * 1024**3)
    assert metrics.limits_of({"HostConfig": {"CpuQuota": 50000, "CpuPeriod": 100000, "Memory": 0}}) == (0.5, None)
    stats = {
        "memory_stats": {"usage": 300, "stats": {"inactive_file": 100}},
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000}},
    }
    assert metrics.memory_in_use(stats) == 200
    first, second = (1_000_000_000, 10_000_000_000), metrics.cpu_sample(stats, 12.0)
    assert metrics.cpu_cores(first, second) == pytest.approx(1.0)  # 2 s of CPU in 2 s
    assert metrics.cpu_cores(None, second) is None
    totals = metrics.aggregate(
        [
            {"profile": "small", "cpu_usage": 0.5, "cpu_limit": 1, "memory_usage": 100, "memory_limit": 1000},
            {"profile": "small", "cpu_usage": None, "cpu_limit": 1, "memory_usage": 50, "memory_limit": 1000},
            {"profile": None, "cpu_usage": 1, "cpu_limit": None, "memory_usage": None, "memory_limit": None},
        ]
    )
    assert totals == {
        "small": {"running": 2, "cpu_usage": 0.5, "cpu_limit": 2, "memory_usage": 150, "memory_limit": 2000},
        "unknown": {"running": 1, "cpu_usage": 1, "cpu_limit": 0, "memory_usage": 0, "memory_limit": 0},
    }
    metrics.publish(totals, 1234.0)
    assert value("jupyterhub_ds_running_servers", profile="small") == 2
    assert value("jupyterhub_ds_memory_limit_bytes", profile="small") == 2000
    metrics.publish({}, 1240.0)  # every server stopped: the profile's series go
    assert REGISTRY.get_sample_value("jupyterhub_ds_running_servers", {"profile": "small"}) is None
    assert value("jupyterhub_ds_container_stats_timestamp_seconds") == 1240.0


def test_review_events_count_only_closed_label_values():
    before = {g: value("jupyterhub_ds_review_gate_refusals_total", gate=g) for g in metrics.GATES}
    submitted = value("jupyterhub_ds_review_submissions_total", outcome="submitted")
    latency_sum = value("jupyterhub_ds_review_mr_latency_seconds_sum")
    metrics.record_review_event({"action": "review.submit", "latency_seconds": 99999})
    metrics.record_review_event({"action": "review.refused", "gates": ["secrets", "secrets", "no_outputs"]})
    assert value("jupyterhub_ds_review_submissions_total", outcome="submitted") == submitted + 1
    assert value("jupyterhub_ds_review_mr_latency_seconds_sum") == latency_sum + metrics.MAX_LATENCY  # clamped
    after = {g: value("jupyterhub_ds_review_gate_refusals_total", gate=g) for g in metrics.GATES}
    assert {g: after[g] - before[g] for g in metrics.GATES if after[g] != before[g]} == {"secrets": 1, "no_outputs": 1}


def test_the_gate_names_are_the_review_extensions():
    from jupyterhub_ds.review.gates import GATES

    schema = yaml.safe_load((Path(SCHEMA_DIR) / "review.yaml").read_text())
    assert metrics.GATES == GATES == tuple(schema["properties"]["gates"]["items"]["enum"])


def test_servers_may_post_a_bounded_number_of_events_a_minute():
    trail = AuditTrail(server_events_per_minute=3)
    assert [trail.allow("alice", now=t) for t in (0, 1, 2, 3)] == [True, True, True, False]
    assert trail.allow("bob", now=3)  # per user
    assert trail.allow("alice", now=60.5)  # the window slides
