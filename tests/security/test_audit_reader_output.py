"""Hole: ``jupyterhub-ds audit --text`` printed an event's user and action as they were. The user of
an admin.request event is taken from the request's path, which any user chooses: a request to the
hub API (straight from their container, no proxy in between) for ``/hub/api/users/<ESC>...``
wrote terminal escapes into the trail (older tornado releases, which jupyterhub 5 accepts, pass
control characters in the request line; tornado 6.6 still passes the C1 controls and U+0085),
and the operator's terminal
ran them when reading it: erase lines, fake events, set the window title. The reader also read a
whole line into memory before looking at its length (a multi-gigabyte line without a newline, a
damaged file), and a line whose ``user`` was not a string crashed ``--user``.

Controls (audit/query.py): ``--text`` writes control characters of every value as escapes; lines
are read with at most MAX_LINE bytes in memory; only string users are compared.
"""

import json
import tracemalloc

import pytest

from jupyterhub_ds import audit
from jupyterhub_ds.audit import query
from jupyterhub_ds.audit.hub import admin_request_event
from jupyterhub_ds.cli import main

pytestmark = pytest.mark.unit

FAKE = "\r\x1b[2K\x1b[1A\x1b[2K2025-06-01T10:00:00+00:00 login root\x1b]0;pwned\x07"


@pytest.mark.parametrize("name", [FAKE, "\x9b2J\x85root\u2028"], ids=["c0-escapes", "c1-and-line-separators"])
def test_a_user_name_from_a_request_path_reaches_the_operators_terminal_escaped(tmp_path, capsys, name):
    path = tmp_path / "audit.jsonl"
    event = admin_request_event("POST", f"/hub/api/users/{name}/server", 403, "mallory", "user")
    assert event is not None and event["user"] == name  # what the hub writes for mallory's request
    audit.emit(audit.event_logger(path), audit.ADMIN, event)
    assert main(["audit", "--path", str(path), "--text"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    assert not any(c in out for c in "\x1b\x07\r\x9b\x85\u2028"), repr(out)
    assert "mallory" in out


def test_a_huge_line_is_skipped_without_reading_it_into_memory(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    size = 64 * 1024 * 1024
    login = {"__timestamp__": "2025-06-01T10:00:00+00:00", "__schema__": audit.AUTH, "action": "login", "user": "ann"}
    with open(path, "wb") as f:
        f.write(b'{"action": "' + b"x" * size + b'"}\n')
        f.write(json.dumps(login).encode() + b"\n")
    tracemalloc.start()
    try:
        assert main(["audit", "--path", str(path), "--text"]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    out, err = capsys.readouterr()
    assert out == "2025-06-01T10:00:00+00:00 login ann\n"
    assert f"a line of {size + 15} bytes is not an event; skipped" in err
    assert peak < 4 * query.MAX_LINE, f"{peak} bytes in memory for one line"


def test_a_line_whose_user_is_not_a_string_does_not_stop_the_reader(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    path.write_text(
        json.dumps({"action": "login", "user": ["ann", "bob"]}) + "\n" + json.dumps({"action": "login", "user": "ann"})
    )
    assert main(["audit", "--path", str(path), "--user", "ann"]) == 0
    assert capsys.readouterr().out == json.dumps({"action": "login", "user": "ann"}) + "\n"
