"""The audit trail's core: the schemas (jupyter_events), the locked append-only sink shared by
two processes, and the reader behind ``jupyterhub-ds audit``."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from jsonschema import ValidationError

from jupyterhub_ds import audit
from jupyterhub_ds.audit import query
from jupyterhub_ds.cli import main

pytestmark = pytest.mark.unit


def test_every_schema_is_a_versioned_jupyter_event_schema_that_refuses_unknown_fields(tmp_path):
    eventlog = audit.event_logger(tmp_path / "audit.jsonl")
    ids = {audit.AUTH, audit.SERVER, audit.REVIEW, audit.PROMOTION, audit.ADMIN}
    assert ids <= set(eventlog.schemas.schema_ids)
    for schema_id in ids:
        assert eventlog.schemas.get(schema_id).version == "1"
    with pytest.raises(ValidationError):  # nobody can add a field (a token, say) to an event
        eventlog.emit(schema_id=audit.AUTH, data={"action": "login", "user": "alice", "token": "x"})
    with pytest.raises(ValidationError):
        eventlog.emit(schema_id=audit.REVIEW, data={"action": "review.refused", "user": "a", "gates": ["made-up"]})


def test_emit_writes_one_line_per_event_with_time_schema_and_version(tmp_path):
    path = tmp_path / "audit.jsonl"
    eventlog = audit.event_logger(path)
    audit.emit(
        eventlog,
        audit.AUTH,
        {"action": "login", "user": "alice", "groups": ["data-science"], "admin": False, "reason": None},
    )
    audit.emit(eventlog, audit.AUTH, {"action": "not-an-action", "user": "alice"})  # logged, not written, not raised
    [line] = path.read_text().splitlines()
    event = json.loads(line)
    assert event["action"] == "login" and event["user"] == "alice" and "reason" not in event
    assert event["__schema__"] == audit.AUTH and event["__schema_version__"] == "1"
    assert query.parse_time(event["__timestamp__"]) <= datetime.now(timezone.utc)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


WRITER = """
import sys
from jupyterhub_ds import audit
eventlog = audit.event_logger(sys.argv[1])
for i in range(int(sys.argv[3])):
    audit.emit(eventlog, audit.PROMOTION, {"action": "promotion.tick", "project": sys.argv[2], "reason": "x" * 1900,
                                           "details": {"i": str(i)}})
"""


def test_two_processes_append_whole_lines_to_the_same_file(tmp_path):
    # the hub and the promotion service write the one file: every line whole, none lost
    path = tmp_path / "audit.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "150"]) for name in ("a/b", "c/d")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(events) == 300
    for project in ("a/b", "c/d"):
        assert [int(e["details"]["i"]) for e in events if e["project"] == project] == list(range(150))


def event(action, user=None, when="2025-06-01T10:00:00.000000+00:00Z", schema=audit.AUTH, **facts):
    return {
        "__timestamp__": when,
        "__schema__": schema,
        "__schema_version__": "1",
        "__metadata_version__": 1,
        "action": action,
        **({"user": user} if user else {}),
        **facts,
    }


EVENTS = [
    event("login", "alice"),
    event(
        "start",
        when="2025-06-01T10:01:00+00:00Z",
        schema=audit.JUPYTERHUB_SERVER_ACTION,
        username="alice",
        servername="",
    ),
    event("server.spawn", "alice", when="2025-06-01T10:01:00+00:00Z", schema=audit.SERVER, profile="small"),
    event("admin.request", "alice", when="2025-06-02T09:00:00+00:00Z", schema=audit.ADMIN, actor="bob"),
    event("promotion.run.promoted", "bob", when="2025-06-03T02:00:00+00:00Z", schema=audit.PROMOTION),
]


@pytest.mark.parametrize(
    "user, action, since, expected",
    [
        (None, None, None, [0, 1, 2, 3, 4]),
        ("alice", None, None, [0, 1, 2, 3]),
        ("bob", None, None, [3, 4]),  # the admin who acted on alice, and his promotion
        (None, "server", None, [1, 2]),  # JupyterHub's own start counts as server.start
        (None, "server.spawn", None, [2]),
        (None, "promotion.run", None, [4]),
        (None, "promotion.r", None, []),  # a prefix of a name is not a name
        (None, None, datetime(2025, 6, 2, tzinfo=timezone.utc), [3, 4]),
    ],
)
def test_filters(user, action, since, expected):
    assert [i for i, e in enumerate(EVENTS) if query.matches(e, user, action, since)] == expected


def test_since_takes_an_age_or_an_iso_time():
    now = datetime(2025, 6, 8, 12, tzinfo=timezone.utc)
    assert query.parse_since("7d", now) == now - timedelta(days=7)
    assert query.parse_since("90m", now) == now - timedelta(minutes=90)
    assert query.parse_since("2025-06-01", now) == datetime(2025, 6, 1, tzinfo=timezone.utc)
    assert query.parse_since("2025-06-01T08:00:00+02:00", now) == datetime(2025, 6, 1, 6, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="an age"):
        query.parse_since("last week", now)


def test_cli_prints_matching_events_oldest_first(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\nnot json\n")
    assert main(["audit", "--path", str(path), "--user", "alice", "--action", "server"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["__schema__"] for line in out.splitlines()] == [
        audit.JUPYTERHUB_SERVER_ACTION,
        audit.SERVER,
    ]
    assert "not a JSON event; skipped" in err and "2 event(s)" in err
    assert main(["audit", "--path", str(path), "--action", "login", "--text"]) == 0
    assert capsys.readouterr().out == "2025-06-01T10:00:00+00:00 login alice\n"


def test_cli_finds_the_file_through_the_admin_yaml_or_says_what_to_do(tmp_path, capsys):
    admin = tmp_path / "jupyterhub_ds.yaml"
    base = (
        "gitlab: {url: https://gitlab.example.com, client_id: x}\nauth: {allowed_groups: [g]}\nprofiles: [{slug: s}]\n"
    )
    admin.write_text(base)
    assert main(["audit", "--config", str(admin)]) == 2
    assert "sets no audit.path" in capsys.readouterr().err
    admin.write_text(base + "audit: {path: trail.jsonl}\n")
    (tmp_path / "trail.jsonl").write_text(json.dumps(EVENTS[0]) + "\n")
    assert main(["audit", "--config", str(admin)]) == 0
    assert json.loads(capsys.readouterr().out)["user"] == "alice"
    assert main(["audit", "--path", str(tmp_path / "missing.jsonl")]) == 1
    assert "no such file" in capsys.readouterr().err
