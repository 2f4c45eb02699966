"""Hole: the container held the refresh token. The server's token could read its owner's whole
``auth_state`` (refresh token, full token response) through ``admin:auth_state!user``.

Control: the server token carries only ``custom:jupyterhub-ds:gitlab-token!user``, which gets a
short-lived GitLab access token alone from ``/hub/api/jupyterhub-ds/users/:name/gitlab-token``;
the hub refreshes it first when it is close to its expiry (so a push in a token's last minutes
no longer fails). Attack: from inside the container, every way to read the refresh token.
"""

import json
import time

import pytest

pytestmark = pytest.mark.integration

LIFETIME = 45  # seconds a GitLab access token lives in this module (GitLab: 7200)
PROJECT = "data-science/notebooks"

HUB = (
    "import json, os, sys, urllib.request, urllib.error\n"
    "def call(path, method='GET', body=None):\n"
    "    req = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + path, method=method,\n"
    "        data=None if body is None else json.dumps(body).encode(),\n"
    "        headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN'],\n"
    "                 'Content-Type': 'application/json'})\n"
    "    try:\n"
    "        with urllib.request.urlopen(req, timeout=60) as r: return r.status, r.read().decode()\n"
    "    except urllib.error.HTTPError as e: return e.code, e.read().decode()\n"
    "user = os.environ['JUPYTERHUB_USER']\n"
    "print(json.dumps({\n"
    "  'user': call('/users/' + user), 'me': call('/user'),\n"
    "  'token': call('/jupyterhub-ds/users/' + user + '/gitlab-token'),\n"
    "  'other': call('/jupyterhub-ds/users/hank/gitlab-token'),\n"
    "  'new_token': call('/users/' + user + '/tokens', 'POST', {'scopes': ['admin:auth_state!user']}),\n"
    "}))\n"
)


@pytest.fixture(scope="module")
def sandbox_token_expires_in():
    return LIFETIME


@pytest.fixture(scope="module")
def sandbox_refresh_age():
    return 300  # the hub's own refresh does not run within this module's minutes


def test_no_way_from_inside_the_container_reads_the_refresh_token(sandbox):
    sandbox.login("alice")
    sandbox.login("hank")
    sandbox.start_server("alice", {"profile": "small"})
    state = sandbox.hub.api("GET", "/users/alice").json()["auth_state"]
    refresh = state["refresh_token"]
    rc, out = sandbox.exec("alice", ["python", "-c", HUB])
    assert rc == 0, out
    seen = json.loads(out)
    assert refresh not in out
    assert seen["user"][0] == 200 and "auth_state" not in json.loads(seen["user"][1])
    assert seen["me"][0] == 200 and "auth_state" not in json.loads(seen["me"][1])
    assert seen["token"][0] == 200
    answer = json.loads(seen["token"][1])
    assert set(answer) == {"access_token", "expires_at", "expires_in", "username", "name", "email"}
    assert seen["other"][0] in (403, 404)  # another user's token: never
    assert seen["new_token"][0] == 403  # the server token cannot mint a token with more scopes
    # nor in its environment or files
    rc, env = sandbox.exec("alice", "env")
    assert refresh not in env and state["access_token"] not in env
    rc, found = sandbox.exec("alice", f"grep -rl {refresh} /home/jovyan /tmp /opt/venv/etc 2>/dev/null || true")
    assert found.strip() == ""


def git_in(sandbox, user, script):
    rc, out = sandbox.exec(user, ["sh", "-c", f"cd /home/jovyan/projects/{PROJECT} && {script}"])
    return rc, out


def test_a_push_with_a_token_near_its_expiry_succeeds(sandbox):
    sandbox.login("frank")
    login_token = sandbox.hub.api("GET", "/users/frank").json()["auth_state"]["access_token"]
    started = time.monotonic()
    sandbox.start_server("frank", {"profile": "small"})
    deadline = time.monotonic() + 60
    while git_in(sandbox, "frank", "git rev-parse HEAD")[0] != 0 and time.monotonic() < deadline:
        time.sleep(1)  # the workspace clone at server start
    assert git_in(sandbox, "frank", "git config user.email f@example.com && git config user.name F")[0] == 0
    # the stored token is now about 30 s from its expiry: a push (the terminal's git and its
    # credential helper) gets a fresh one from the hub, valid long enough
    time.sleep(max(0.0, LIFETIME - 30 - (time.monotonic() - started)))
    rc, out = git_in(
        sandbox,
        "frank",
        "git checkout -qb review/frank/near-expiry && echo 1 > near.txt && "
        "git add near.txt && git commit -qm near && git push -q origin HEAD 2>&1",
    )
    assert rc == 0, out
    fresh = sandbox.hub.api("GET", "/users/frank").json()["auth_state"]
    assert fresh["access_token"] != login_token
    # once the login's token has expired, pushing still works: the hub refreshes before handing out
    time.sleep(max(0.0, LIFETIME + 2 - (time.monotonic() - started)))
    rc, out = git_in(sandbox, "frank", "echo 2 > near.txt && git commit -qam again && git push -q origin HEAD 2>&1")
    assert rc == 0, out
    branch = (
        sandbox.gitlab.client(sandbox.gitlab.admin_token).projects.get(PROJECT).branches.get("review/frank/near-expiry")
    )
    assert branch.commit["title"] == "again"
