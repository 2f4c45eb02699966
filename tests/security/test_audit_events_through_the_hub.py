"""Hole: a user's submissions and refusals could be written to the audit trail by their own
server, which the user controls: they could write events as someone else, change who or when,
put any field (a token) in them, or flood the trail and the metrics.

Control: the server never writes the trail. It posts its event to
``POST /hub/api/jupyterhub-ds/users/:name/events`` with its token, whose scope
``custom:jupyterhub-ds:audit!user`` covers its own user only; the hub refuses an event that
names a user, that the review schema refuses (fields, actions, gate names, lengths), a body
over the size bound and more than the per-minute bound, then sets the user (the token's owner)
and the time and writes it. Attack: from inside alice's container, with her server's token.
"""

import json

import pytest
import requests

pytestmark = pytest.mark.integration

PER_MINUTE = 10
REFUSED = 6  # the posts below that reach the rate bound (every post counts) before the valid ones
POST = (
    "import json, os, sys, urllib.request, urllib.error\n"
    "def post(user, body, token=None):\n"
    "    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()\n"
    "    req = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/jupyterhub-ds/users/' + user + '/events',\n"
    "        method='POST', data=data, headers={'Authorization': 'token ' + (token or os.environ['JUPYTERHUB_API_TOKEN']),\n"
    "                                           'Content-Type': 'application/json'})\n"
    "    try:\n"
    "        with urllib.request.urlopen(req, timeout=30) as r: return r.status\n"
    "    except urllib.error.HTTPError as e: return e.code\n"
    "ok = {'action': 'review.submit', 'paths': ['projects/p/a.ipynb'], 'latency_seconds': 1.5}\n"
    "print(json.dumps({\n"
    "  'as_bob': post('bob', ok),\n"
    "  'user_named': post('alice', {**ok, 'user': 'bob'}),\n"
    "  'extra_field': post('alice', {**ok, 'token': 'glpat-' + 'x' * 20}),\n"
    "  'other_action': post('alice', {'action': 'admin.granted'}),\n"
    "  'made_up_gate': post('alice', {'action': 'review.refused', 'gates': ['sneaky']}),\n"
    "  'long_path': post('alice', {**ok, 'paths': ['x' * 600]}),\n"
    "  'not_json': post('alice', 'nope'),\n"
    "  'too_large': post('alice', {**ok, 'branch': 'b' * 20000}),\n"
    "  'no_scope': post('alice', ok, token=sys.argv[1]),\n"
    "  'valid': [post('alice', ok) for _ in range(" + str(PER_MINUTE + 2) + ")],\n"
    "}))\n"
)


@pytest.fixture(scope="module")
def sandbox_yaml_changes():
    def change(config):
        config["audit"] = {"path": "audit.jsonl"}
        return config

    return change


@pytest.fixture(scope="module")
def sandbox_config_d():
    return {"50-audit.py": f"c.AuditTrail.server_events_per_minute = {PER_MINUTE}\n"}


def test_a_server_can_report_only_its_own_users_events_as_the_hub_stamps_them(sandbox):
    sandbox.login("alice")
    sandbox.login("bob")
    sandbox.start_server("alice", {"profile": "small"})
    # a token of alice's without the events scope
    r = sandbox.hub.api("POST", "/users/alice/tokens", json={"scopes": ["read:users:name!user"], "expires_in": 600})
    assert r.status_code == 201, r.text
    rc, out = sandbox.exec("alice", ["python", "-c", POST, r.json()["token"]])
    assert rc == 0, out
    seen = json.loads(out)
    assert seen["as_bob"] in (403, 404)  # as JupyterHub answers for a user the token may not act for
    assert (
        seen["user_named"],
        seen["extra_field"],
        seen["other_action"],
        seen["made_up_gate"],
        seen["long_path"],
        seen["not_json"],
    ) == (400,) * 6
    assert seen["too_large"] == 413 and seen["no_scope"] in (403, 404)
    assert seen["valid"] == [204] * (PER_MINUTE - REFUSED) + [429] * (REFUSED + 2)

    events = [json.loads(line) for line in (sandbox.yaml_path.parent / "audit.jsonl").read_text().splitlines()]
    reported = [e for e in events if e.get("__schema__", "").endswith("/events/review")]
    assert len(reported) == PER_MINUTE - REFUSED
    assert all(e["user"] == "alice" and e["action"] == "review.submit" and e["__timestamp__"] for e in reported)
    assert not [e for e in events if e.get("user") == "bob" and e.get("action", "").startswith("review")]
    assert "glpat-" not in json.dumps(events)
    metrics = requests.get(
        f"{sandbox.hub.url}/hub/metrics", timeout=30, headers={"Authorization": f"token {sandbox.hub.admin_token}"}
    ).text
    assert f'jupyterhub_ds_server_events_refused_total{{reason="rate_limited"}} {REFUSED + 2}.0' in metrics
    assert 'jupyterhub_ds_server_events_refused_total{reason="invalid"} 6.0' in metrics
    # the file is on the hub's host: nothing of it is in the container
    assert sandbox.exec("alice", "grep -rl review.submit /home/jovyan /tmp 2>/dev/null || true")[1].strip() == ""
