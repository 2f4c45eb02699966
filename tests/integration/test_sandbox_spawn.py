"""Flow 1 with real parts: GitLab login, profile-sized hardened containers, tokens, revocation.

A real hub configured from an admin YAML (ds-gitlab authenticator, ds-docker spawner), the
GitLab stand-in and real Docker containers of the single-user image (tests/fixtures/sandbox.py).
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.fixtures.hub_login import login_via_gitlab
from tests.fixtures.sandbox import GiB, MiB, password

pytestmark = pytest.mark.integration


def error_message(resp):
    try:
        return resp.json().get("message", "")
    except ValueError:
        return resp.text


@pytest.mark.parametrize(
    "options, status, message",
    [
        ({"profile": "large"}, 403, "Profile 'large' is not available to you"),
        ({"profile": "gpu"}, 403, "it needs membership of one of the GitLab groups ml-gpu"),
        ({"profile": "huge"}, 400, "Unknown profile 'huge'; profiles available to you: small, tiny"),
        ({"profile": ["small"]}, 400, "user_options.profile must be a profile name"),
        ({"profile": "small", "cpu_limit": 64}, 400, "unknown user_options key(s) 'cpu_limit'"),
        ({"profile": "small", "image": "docker.io/evil/miner"}, 400, "Image 'docker.io/evil/miner' is not allowed"),
    ],
)
def test_rest_api_refuses_what_the_user_may_not_have_and_creates_no_container(sandbox, options, status, message):
    sandbox.login("alice")
    resp = sandbox.as_user("alice", "POST", "/users/alice/server", json=options)
    assert resp.status_code == status, resp.text
    assert message in error_message(resp)
    assert sandbox.containers("alice") == []
    assert not sandbox.hub.api("GET", "/users/alice").json()["servers"]


def read_progress(sandbox, username, timeout=120):
    """The spawn's progress event stream, as the hub's spawn-pending page reads it."""
    token = sandbox.user_token(username)
    resp = requests.get(
        f"{sandbox.hub.api_url}/users/{username}/server/progress",
        headers={"Authorization": f"token {token}"},
        stream=True,
        timeout=timeout,
    )
    events = []
    deadline = time.monotonic() + timeout
    for line in resp.iter_lines(decode_unicode=True):
        if line and line.startswith("data:"):
            event = json.loads(line[5:])
            events.append(event)
            if event.get("ready") or event.get("failed"):
                break
        if time.monotonic() > deadline:
            break
    resp.close()
    return events


def cgroup_value(sandbox, username, v1_path, v2_path):
    rc, out = sandbox.exec(username, f"cat /sys/fs/cgroup/{v1_path} 2>/dev/null || cat /sys/fs/cgroup/{v2_path}")
    assert rc == 0, out
    return out.strip()


def test_small_profile_gives_a_hardened_limited_container_with_persistent_home(sandbox):
    sandbox.login("alice")
    # the API call returns when the server is up (or after 10 s), so watch the progress
    # stream meanwhile, as the hub's spawn-pending page does
    with ThreadPoolExecutor(1) as pool:
        spawn = pool.submit(sandbox.as_user, "alice", "POST", "/users/alice/server", json={"profile": "small"})
        deadline = time.monotonic() + 30
        while sandbox.hub.api("GET", "/users/alice").json().get("pending") != "spawn":
            assert time.monotonic() < deadline and not spawn.done(), "spawn never became pending"
            time.sleep(0.05)
        events = read_progress(sandbox, "alice")
        resp = spawn.result()
    assert resp.status_code in (201, 202), resp.text
    messages = " | ".join(e.get("message", "") for e in events)
    for expected in ("Checking image", "Creating container", "Starting container", "Waiting for JupyterLab"):
        assert expected in messages, messages
    assert events[-1].get("ready"), messages
    sandbox.wait_ready("alice")

    (container,) = sandbox.containers("alice")
    # the image's command: JupyterHub's single-user server, the collector paused only while starting
    log = container.logs().decode(errors="replace")
    assert "JupyterHubSingleUser" in log and "garbage collection resumed" in log, log[-2000:]
    host = container.attrs["HostConfig"]
    assert host["Memory"] == GiB
    assert host["MemorySwap"] == GiB  # no swap beyond the memory limit
    assert host["CpuQuota"] == host["CpuPeriod"] == 100000  # 1 CPU
    assert host["PidsLimit"] == 200
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["CapDrop"] == ["ALL"]

    # what the user sees from inside
    assert cgroup_value(sandbox, "alice", "memory/memory.limit_in_bytes", "memory.max") == str(GiB)
    quota = cgroup_value(sandbox, "alice", "cpu/cpu.cfs_quota_us", "cpu.max")
    assert quota.split()[0] == "100000", quota
    assert cgroup_value(sandbox, "alice", "pids/pids.max", "pids.max") == "200"
    assert sandbox.exec("alice", "id -u") == (0, "1000\n")
    rc, status = sandbox.exec("alice", "grep -E '^(NoNewPrivs|CapEff)' /proc/self/status")
    assert "NoNewPrivs:\t1" in status and "CapEff:\t0000000000000000" in status, status
    assert sandbox.exec("alice", "test ! -e /var/run/docker.sock && ! command -v docker")[0] == 0
    assert sandbox.exec("alice", "cat /home/jovyan/shared/reference.csv") == (0, "id,value\n1,42\n")
    rc, out = sandbox.exec("alice", "touch /home/jovyan/shared/new.csv")
    assert rc != 0 and "Read-only file system" in out, out

    # the home volume outlives the container
    assert sandbox.exec("alice", "echo kept > /home/jovyan/notes.txt")[0] == 0
    sandbox.stop_server("alice")
    assert sandbox.containers("alice") == []
    sandbox.start_server("alice", {"profile": "small"})
    assert sandbox.exec("alice", "cat /home/jovyan/notes.txt") == (0, "kept\n")


def test_credential_helper_gets_a_token_the_gitlab_accepts_and_nothing_else(sandbox):
    sandbox.login("hank")
    sandbox.start_server("hank", {"profile": "small"})
    repo = f"{sandbox.gitlab.url}/data-science/notebooks.git"
    rc, out = sandbox.exec("hank", f"git ls-remote {repo}")
    assert rc == 0 and "refs/heads/main" in out, out
    # the GitLab token is fetched on demand: not in the environment, not on disk
    rc, env = sandbox.exec("hank", "env")
    auth_state = sandbox.hub.api("GET", "/users/hank").json()["auth_state"]
    assert auth_state["access_token"] not in env
    rc, found = sandbox.exec("hank", f"grep -rl {auth_state['access_token']} /home/jovyan /tmp 2>/dev/null || true")
    assert found.strip() == ""
    # a server may read its owner's token, never another user's
    probe = (
        "import os, urllib.request, urllib.error\n"
        "req = urllib.request.Request(os.environ['JUPYTERHUB_API_URL'] + '/users/alice',"
        " headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})\n"
        "try:\n    urllib.request.urlopen(req); print('200')\n"
        "except urllib.error.HTTPError as e:\n    print(e.code)\n"
    )
    rc, out = sandbox.exec("hank", ["python", "-c", probe])
    assert out.strip() in ("403", "404"), out


def test_memory_blowup_kills_only_that_container_and_hub_reports_it_stopped(sandbox):
    sandbox.login("frank")
    sandbox.login("hank")
    sandbox.start_server("frank", {"profile": "tiny"})  # 256 MB
    if not sandbox.containers("hank"):
        sandbox.start_server("hank", {"profile": "small"})
    # A process in the sandbox that allocates past 256 MB is killed by the kernel (exit 137)...
    rc, out = sandbox.exec(
        "frank", ["python", "-c", "b = bytearray(600 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"]
    )
    assert rc == 137, (rc, out)
    # ... and when the server itself blows the limit (a 400 MB upload into the contents API),
    # the container dies, the hub notices and reports the server stopped.
    token = sandbox.user_token("frank")
    body = json.dumps({"type": "file", "format": "text", "content": "x" * (400 * MiB)})
    try:
        requests.put(
            f"{sandbox.hub.url}/user/frank/api/contents/huge.txt",
            data=body,
            headers={"Authorization": f"token {token}"},
            timeout=120,
        )
    except requests.RequestException:
        pass  # the connection may drop as the server dies
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sandbox.hub.api("GET", "/users/frank").json()["servers"]:
        time.sleep(1)
    assert not sandbox.hub.api("GET", "/users/frank").json()["servers"], "hub still reports frank's server"
    # the other user's container is untouched
    (other,) = sandbox.containers("hank")
    other.reload()
    assert other.status == "running"
    assert sandbox.exec("hank", "echo alive") == (0, "alive\n")


def test_user_removed_from_group_is_refused_at_next_spawn_without_logging_out(sandbox, sandbox_refresh_age):
    session = sandbox.login("erin")
    token = sandbox.user_token("erin")
    assert session.get(f"{sandbox.hub.url}/hub/home", timeout=30).status_code == 200
    sandbox.start_server("erin", {"profile": "tiny"})
    gl = sandbox.gitlab.client(sandbox.gitlab.admin_token)
    gl.groups.get("data-science/analysts").members.delete(sandbox.gitlab.user_id("erin"))
    time.sleep(sandbox_refresh_age + 1)
    # her API token, made while she was allowed, no longer works: no spawn...
    resp = requests.post(
        f"{sandbox.hub.api_url}/users/erin/server",
        json={"profile": "small"},
        headers={"Authorization": f"token {token}"},
        timeout=60,
    )
    assert resp.status_code == 403, resp.text
    # ... and the server she had running was stopped (stop_server_on_revoke, the default); the
    # engine may take a moment to remove the stopped container
    deadline = time.monotonic() + 30
    while sandbox.containers("erin") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sandbox.containers("erin") == []
    assert not sandbox.hub.api("GET", "/users/erin").json()["servers"]
    # the same browser session, never logged out, is no longer signed in...
    assert session.get(f"{sandbox.hub.url}/hub/api/user", timeout=30).status_code == 403
    page = session.get(f"{sandbox.hub.url}/hub/home", timeout=30)
    assert "/hub/login" in page.url
    # ... and signing in again through GitLab is refused
    again = login_via_gitlab(sandbox.hub.url, "erin", password("erin"))
    assert again.response.status_code == 403, again.response.text[:300]
    assert sandbox.containers("erin") == []


def test_hub_restart_keeps_running_servers_reachable(sandbox):
    users = ["alice", "bob", "hank"]
    for name in users:
        sandbox.login(name)
        if not sandbox.containers(name):
            sandbox.start_server(name, {"profile": "large" if name == "bob" else "small"})
    tokens = {name: sandbox.user_token(name) for name in users}
    sandbox.hub.restart()
    for name in users:
        deadline = time.monotonic() + 60
        while True:
            resp = requests.get(
                f"{sandbox.hub.url}/user/{name}/api/status",
                headers={"Authorization": f"token {tokens[name]}"},
                timeout=30,
            )
            if resp.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert resp.status_code == 200, f"{name}: {resp.status_code} {resp.text[:300]}"
        assert "started" in resp.json()


def test_users_containers_cannot_reach_each_other(sandbox):
    for name in ("alice", "hank"):
        sandbox.login(name)
        if not sandbox.containers(name):
            sandbox.start_server(name, {"profile": "small"})
    (hank,) = sandbox.containers("hank")
    hank_ip = hank.attrs["NetworkSettings"]["Networks"][sandbox.network]["IPAddress"]
    # the hub (on the host) reaches hank's server...
    assert requests.get(f"http://{hank_ip}:8888/user/hank/api", timeout=10).status_code == 200
    # ... alice's container does not (inter-container traffic is off on the users' network)
    probe = (
        "import socket, sys\n"
        "try:\n"
        f"    socket.create_connection(({hank_ip!r}, 8888), timeout=3); print('connected')\n"
        "except OSError as e:\n"
        "    print('refused:', e)\n"
    )
    rc, out = sandbox.exec("alice", ["python", "-c", probe])
    assert out.startswith("refused:"), out
