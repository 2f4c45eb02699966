"""Hole: blocked or deleted GitLab users kept access. When GitLab refused the refresh token,
oauthenticator's ``refresh_user`` returned False and token-authenticated requests (the user's
server included) kept working.

Control (DSGitLabOAuthenticator.refresh_user): GitLab refusing a user's tokens is treated like
removal from the allowed groups: 403 for every kind of request and their servers stopped. Only
a GitLab outage (5xx, timeout, no connection) keeps the session until the next refresh.
"""

import time

import pytest
import requests

pytestmark = pytest.mark.integration

REFRESH_AGE = 3
PROBE = (
    "import os, urllib.request, urllib.error\n"
    "req = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/user',"
    " headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})\n"
    "try:\n    urllib.request.urlopen(req, timeout=60); print(200)\n"
    "except urllib.error.HTTPError as e:\n    print(e.code)\n"
)


@pytest.fixture(scope="module")
def sandbox_refresh_age():
    return REFRESH_AGE


def in_use(sandbox, name):
    """Signed in through GitLab (browser session), an API token of theirs, a running server."""
    session = sandbox.login(name)
    token = sandbox.user_token(name)
    sandbox.start_server(name, {"profile": "small"})
    return session, token


def assert_shut_out(sandbox, name, session, token):
    # their server's own token: refused (the first request after the refresh age revokes; the
    # hub stops the server while answering, so the probe may die with its container) ...
    rc, out = sandbox.exec(name, ["python", "-c", PROBE])
    assert out.strip() in ("403", ""), out
    # ... their server is stopped ...
    deadline = time.monotonic() + 60
    while sandbox.containers(name) and time.monotonic() < deadline:
        time.sleep(1)
    assert sandbox.containers(name) == []
    assert not sandbox.hub.api("GET", f"/users/{name}").json()["servers"]
    # ... and neither their API token nor their browser session works any more
    api = requests.get(f"{sandbox.hub.api_url}/user", headers={"Authorization": f"token {token}"}, timeout=60)
    assert api.status_code == 403, api.text
    assert session.get(f"{sandbox.hub.url}/hub/api/user", timeout=60).status_code == 403


def test_a_user_blocked_in_gitlab_is_refused_everywhere_and_their_server_stopped(sandbox):
    session, token = in_use(sandbox, "alice")
    gitlab_admin = {"PRIVATE-TOKEN": sandbox.gitlab.admin_token}
    r = requests.post(
        f"{sandbox.gitlab.url}/api/v4/users/{sandbox.gitlab.user_id('alice')}/block", headers=gitlab_admin, timeout=30
    )
    assert r.status_code == 201, r.text
    # the stored access token stops working (GitLab: 403 "blocked"); make the hub refresh now
    state = sandbox.hub.api("GET", "/users/alice").json()["auth_state"]
    assert (
        requests.get(
            f"{sandbox.gitlab.url}/api/v4/user",
            timeout=30,
            headers={"Authorization": f"Bearer {state['access_token']}"},
        ).status_code
        == 403
    )
    time.sleep(REFRESH_AGE + 1)
    assert_shut_out(sandbox, "alice", session, token)


def test_a_user_deleted_in_gitlab_is_refused_everywhere_and_their_server_stopped(sandbox):
    session, token = in_use(sandbox, "bob")
    r = requests.delete(
        f"{sandbox.gitlab.url}/api/v4/users/{sandbox.gitlab.user_id('bob')}",
        headers={"PRIVATE-TOKEN": sandbox.gitlab.admin_token},
        timeout=30,
    )
    assert r.status_code == 204, r.text
    time.sleep(REFRESH_AGE + 1)
    assert_shut_out(sandbox, "bob", session, token)


def test_a_gitlab_outage_keeps_sessions_and_servers(sandbox):
    session, token = in_use(sandbox, "hank")
    sandbox.gitlab.process.send_signal(19)  # SIGSTOP: GitLab accepts connections, answers nothing
    try:
        time.sleep(REFRESH_AGE + 1)
        api = requests.get(f"{sandbox.hub.api_url}/user", headers={"Authorization": f"token {token}"}, timeout=120)
        assert api.status_code == 200, api.text
        assert session.get(f"{sandbox.hub.url}/hub/api/user", timeout=120).status_code == 200
        rc, out = sandbox.exec("hank", ["python", "-c", PROBE])
        assert out.strip() == "200", out
        assert len(sandbox.containers("hank")) == 1
    finally:
        sandbox.gitlab.process.send_signal(18)  # SIGCONT
