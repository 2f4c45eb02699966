"""The stand-in as a process: the ready line, the demo seed, --external-url, SIGTERM, bad seeds."""

import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.fixtures.gitlab import REPO_ROOT

pytestmark = pytest.mark.integration

DEMO_SEED = REPO_ROOT / "tests" / "fake_gitlab" / "demo_seed.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fake_gitlab", "--host", "127.0.0.1", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_demo_seed_external_url_and_clean_sigterm(tmp_path):
    port = free_port()
    external = f"http://localhost:{port}"
    proc = launch("--port", str(port), "--seed", str(DEMO_SEED), "--external-url", external + "/")
    try:
        assert proc.stdout.readline() == f"ready {external}\n"
        headers = {"PRIVATE-TOKEN": "glpat-demo-admin-token"}
        project = requests.get(
            f"http://127.0.0.1:{port}/api/v4/projects/data-science%2Fnotebooks", headers=headers, timeout=10
        ).json()
        assert project["http_url_to_repo"] == f"{external}/data-science/notebooks.git"
        groups = requests.get(f"http://127.0.0.1:{port}/api/v4/groups", headers=headers, timeout=10).json()
        assert {"data-science", "data-science/analysts", "data-science/power-users", "ml-gpu"} <= {
            g["full_path"] for g in groups
        }
        protected = requests.get(
            f"http://127.0.0.1:{port}/api/v4/projects/{project['id']}/protected_branches", headers=headers, timeout=10
        ).json()
        assert [p["name"] for p in protected] == ["main", "staging", "production"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and out == ""
    data_dir = re.search(r"serving \S+ from (\S+)", err).group(1)
    assert not Path(data_dir).exists()  # no --data-dir: the temporary repositories are removed


def test_data_dir_keeps_bare_repositories(tmp_path):
    proc = launch("--port", "0", "--seed", str(DEMO_SEED), "--data-dir", str(tmp_path / "data"))
    try:
        assert proc.stdout.readline().startswith("ready http://127.0.0.1:")
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert proc.returncode == 0
    repo = next((tmp_path / "data" / "repositories").glob("*.git"))
    log = subprocess.run(["git", f"--git-dir={repo}", "log", "--format=%s", "main"], capture_output=True, text=True)
    assert log.stdout == "Initial commit\n"


def test_api_latency_delays_api_and_token_answers_as_a_distant_gitlab(tmp_path):
    """The benchmarks' GitLab across a network: each API and OAuth token answer waits
    ``--api-latency`` milliseconds, and several waiting answers do not queue behind each other."""
    proc = launch("--port", "0", "--seed", str(DEMO_SEED), "--api-latency", "400")
    try:
        url = proc.stdout.readline().split()[1]
        headers = {"PRIVATE-TOKEN": "glpat-demo-admin-token"}

        def timed(method, path, **kwargs):
            t0 = time.monotonic()
            r = requests.request(method, url + path, timeout=10, **kwargs)
            return r.status_code, time.monotonic() - t0

        status, took = timed("GET", "/api/v4/version", headers=headers)
        assert status == 200 and took >= 0.4
        status, took = timed("POST", "/oauth/token", data={"grant_type": "password"})
        assert status in (400, 401) and took >= 0.4
        with ThreadPoolExecutor(5) as pool:
            t0 = time.monotonic()
            answers = list(pool.map(lambda _: timed("GET", "/api/v4/user", headers=headers), range(5)))
            together = time.monotonic() - t0
        assert {a[0] for a in answers} == {200} and together < 5 * 0.4
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


@pytest.mark.parametrize(
    "seed_text, message",
    [
        ("users: []\nrepos: []\n", "unknown top-level keys ['repos']"),
        ("groups:\n  - {path: a/b}\n", "parent group 'a' is not defined"),
        ("users: []\nprojects:\n  - {path: nobody/p}\n", "namespace 'nobody' is neither a group nor a user"),
    ],
)
def test_bad_seed_exits_2_with_a_message(tmp_path, seed_text, message):
    seed = tmp_path / "seed.yaml"
    seed.write_text(seed_text)
    proc = launch("--port", "0", "--seed", str(seed))
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 2 and out == "" and message in err


def test_admin_registers_an_application_at_runtime(gitlab_server):
    admin = {"PRIVATE-TOKEN": gitlab_server.admin_token}
    r = requests.post(
        f"{gitlab_server.url}/api/v4/applications",
        headers=admin,
        timeout=10,
        data={
            "name": "Late hub",
            "redirect_uri": "http://127.0.0.1:9999/hub/oauth_callback",
            "scopes": "read_user api",
        },
    )
    assert r.status_code == 201
    app = r.json()
    assert app["callback_url"] == "http://127.0.0.1:9999/hub/oauth_callback" and app["secret"]
    grant = requests.post(
        f"{gitlab_server.url}/oauth/token",
        timeout=10,
        data={
            "grant_type": "password",
            "username": "bob",
            "password": "bob-pass-1",
            "scope": "read_user",
            "client_id": app["application_id"],
            "client_secret": app["secret"],
        },
    )
    assert grant.status_code == 200 and grant.json()["scope"] == "read_user"
    not_admin = {"PRIVATE-TOKEN": gitlab_server.user_token("bob", ["api"])}
    assert requests.get(f"{gitlab_server.url}/api/v4/applications", headers=not_admin, timeout=10).status_code == 403
