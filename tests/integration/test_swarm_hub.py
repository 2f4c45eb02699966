"""ds-swarm on a real three-node swarm (tests/fixtures/netns_swarm.py, swarm_hub.py).

A demo-like admin YAML with ``spawner.kind: swarm`` starts a real hub (PostgreSQL database);
alice logs in through the GitLab stand-in and her server lands on a worker, with the profile's
limits and the hardening checked from inside the task container; the hub keeps it across a
restart; her home follows her to its node; draining that node stops the server, the hub says
so, and so does the page she opens. The tests run in order on one stack (module scope).
"""

import json
import time

import pytest
from docker.types import ContainerSpec, Placement, TaskTemplate

from tests.fixtures.hub import loopback_session
from tests.fixtures.swarm_hub import PENDING_TIMEOUT, POLL_INTERVAL

pytestmark = pytest.mark.integration

GiB, MiB = 1024**3, 1024**2


def cgroup_limits(stack, username):
    """memory limit, memory+swap limit, CPUs (quota/period), pids max, CPU weight: read from
    the cgroup files inside the user's task container (cgroup v1 or v2)."""
    code, out = stack.exec(
        username,
        """
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  echo "mem=$(cat /sys/fs/cgroup/memory.max)"; echo "memsw=$(cat /sys/fs/cgroup/memory.swap.max)"
  set -- $(cat /sys/fs/cgroup/cpu.max); echo "cpu=$1/$2"; echo "pids=$(cat /sys/fs/cgroup/pids.max)"
  echo "weight=$(cat /sys/fs/cgroup/cpu.weight)"
else
  echo "mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
  echo "memsw=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo none)"
  echo "cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)/$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
  echo "pids=$(cat /sys/fs/cgroup/pids/pids.max)"; echo "weight=$(cat /sys/fs/cgroup/cpu/cpu.shares)"
fi""",
    )
    assert code == 0, out
    values = dict(line.split("=", 1) for line in out.split())
    quota, period = values["cpu"].split("/")
    return {
        "mem": int(values["mem"]),
        "memsw": values["memsw"],
        "cpus": int(quota) / int(period),
        "pids": int(values["pids"]),
        "weight": int(values["weight"]),
    }


def server_process_status(stack, username):
    """/proc/<pid>/status of the jupyterhub-singleuser process (not tini, pid 1, nor this shell,
    whose command lines name it too), as {field: value}."""
    code, out = stack.exec(
        username,
        """
for d in /proc/[0-9]*; do
  cmd=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)
  case "$cmd" in
    tini\\ *|sh\\ *|tr\\ *) ;;
    *jupyterhub-singleuser*) cat $d/status; exit 0;;
  esac
done; exit 1""",
    )
    assert code == 0, out
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def wait_gone(stack, username, timeout=30):
    deadline = time.monotonic() + timeout
    while stack.swarm.manager.api().services(filters={"name": stack.service_name(username)}):
        assert time.monotonic() < deadline, f"the service of {username} is still there after {timeout} s"
        time.sleep(0.5)


def test_alice_spawns_on_a_worker_with_the_profile_and_hardening_enforced(swarm_stack):
    stack = swarm_stack
    stack.login("alice")
    stack.start_server("alice", {"profile": "small"})
    task = stack.task("alice")
    engine, container = stack.task_container("alice")
    assert engine.name in ("w1", "w2"), f"alice's server runs on {engine.name}, not on a worker"

    spec = stack.swarm.manager.api().inspect_service(stack.service_name("alice"))["Spec"]["TaskTemplate"]
    assert spec["Resources"] == {
        "Limits": {"NanoCPUs": 10**9, "MemoryBytes": GiB, "Pids": 200},
        "Reservations": {"NanoCPUs": 25 * 10**7, "MemoryBytes": 256 * MiB},
    }
    assert spec["Placement"]["Constraints"] == ["node.role==worker"]
    assert spec["RestartPolicy"]["Condition"] == "none"
    assert spec["ContainerSpec"]["Args"][:3] == ["setpriv", "--no-new-privs", "--"]

    # the limits hold on the worker: the kernel's own files, read inside the task container
    limits = cgroup_limits(stack, "alice")
    assert (limits["mem"], limits["cpus"], limits["pids"]) == (GiB, 1.0, 200), limits
    # what Swarm cannot do, and check-config therefore refuses unless allow_swap is said:
    # the engine gives the task as much swap as memory (docs/scale-out.md)
    assert limits["memsw"] in ("none", str(2 * GiB), "max"), limits
    # hardening: no capabilities, uid 1000, no-new-privileges on the server process itself
    status = server_process_status(stack, "alice")
    assert status["NoNewPrivs"] == "1", status
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0, status
    assert status["Uid"].split()[:2] == ["1000", "1000"], status
    # read-only image, writable home and /tmp
    code, out = stack.exec(
        "alice", "touch /usr/x 2>&1; touch /tmp/x ~/x && echo writable; cat /home/jovyan/shared/reference.csv"
    )
    assert "Read-only file system" in out and "writable" in out and "1,42" in out, out
    assert any(v.name == f"{stack.prefix}-home-alice" for v in engine.client().volumes.list())

    # the server answers through the proxy: the REST API with her token, and JupyterLab in her
    # logged-in browser session (the single-user OAuth dance goes through the hub on the overlay)
    r = stack.server_get("alice", "api/status")
    assert r.status_code == 200, r.text[:300]
    page = stack.login("alice").get(f"{stack.hub.url}/user/alice/lab", timeout=60)
    assert page.status_code == 200 and "JupyterLab" in page.text, page.text[:300]
    stack.timings["alice's node"] = engine.name
    stack.alice_task = task["ID"]


def test_a_hub_restart_keeps_the_running_service(swarm_stack):
    stack = swarm_stack
    service_before = stack.swarm.manager.api().inspect_service(stack.service_name("alice"))["ID"]
    t0 = time.monotonic()
    stack.hub.restart()
    stack.timings["hub restart"] = round(time.monotonic() - t0, 1)
    server = stack.wait_ready("alice", timeout=60)
    assert server["ready"]
    assert stack.swarm.manager.api().inspect_service(stack.service_name("alice"))["ID"] == service_before
    assert stack.task("alice")["ID"] == stack.alice_task
    r = stack.server_get("alice", "api/status")
    assert r.status_code == 200, r.text[:300]


def test_her_home_follows_alice_to_its_node(swarm_stack):
    stack = swarm_stack
    token = stack.user_token("alice")
    headers = {"Authorization": f"token {token}"}
    http = loopback_session()
    url = f"{stack.hub.url}/user/alice/api/contents/kept.txt"
    r = http.put(url, headers=headers, json={"type": "file", "format": "text", "content": "still here"}, timeout=30)
    assert r.status_code in (200, 201), r.text[:300]
    home_node = stack.task("alice")["NodeID"]
    stack.stop_server("alice")
    # one task on her node and none on the other worker: an unpinned server would go there
    mgr = stack.swarm.manager.api()
    filler = mgr.create_service(
        TaskTemplate(
            ContainerSpec(stack.yaml_image, command=["sleep"], args=["600"]),
            placement=Placement(constraints=[f"node.id=={home_node}"]),
        ),
        name=f"{stack.prefix}-filler",
    )
    try:
        stack.start_server("alice", {"profile": "tiny"})
        assert stack.task("alice")["NodeID"] == home_node
        constraints = mgr.inspect_service(stack.service_name("alice"))["Spec"]["TaskTemplate"]["Placement"][
            "Constraints"
        ]
        assert f"node.id=={home_node}" in constraints
        r = http.get(url, headers=headers, timeout=30)
        assert r.status_code == 200 and r.json()["content"] == "still here", r.text[:300]
    finally:
        mgr.remove_service(filler["ID"])


def test_draining_her_node_stops_the_server_and_says_so(swarm_stack):
    stack = swarm_stack
    node_id = stack.task("alice")["NodeID"]
    engine = stack.swarm.engine_of_node(node_id)
    session = stack.login("alice")
    try:
        t0 = time.monotonic()
        stack.swarm.set_node(engine, availability="drain")
        stack.wait_stopped("alice", timeout=10 * POLL_INTERVAL + 20)
        stack.timings["drain -> hub reports stopped"] = round(time.monotonic() - t0, 1)
        log = stack.hub.log_text()
        assert "(node drain)" in log, stack.hub.log_tail(40)
        # no service left behind: the hub removes it when it sees the server stop
        wait_gone(stack, "alice")
        # what alice sees: her server's page says it is not running
        page = session.get(f"{stack.hub.url}/user/alice/lab", timeout=30)
        assert "not running" in page.text, page.text[:500]
        # and a new start says why it cannot run where her home is
        r = stack.request_server("alice", {"profile": "small"})
        if r.status_code == 202:  # the spawn failed in the background
            stack.wait_stopped("alice", timeout=30)
            message = stack.hub.log_tail(30)
        else:
            message = r.text
        assert "drain" in message and engine.hostname in message and "home volume" in message, message
    finally:
        stack.swarm.set_node(engine, availability="active")


def test_the_gpu_profile_lands_on_the_labelled_node_with_its_gpu_reserved(swarm_stack):
    stack = swarm_stack
    stack.login("gina")
    stack.start_server("gina", {"profile": "gpu"})
    engine, container = stack.task_container("gina")
    assert engine.name == "w2"
    spec = stack.swarm.manager.api().inspect_service(stack.service_name("gina"))["Spec"]["TaskTemplate"]
    assert spec["Resources"]["Reservations"]["GenericResources"] == [
        {"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 1}}
    ]
    assert "node.labels.gpu==true" in spec["Placement"]["Constraints"]
    # the node's one GPU is reserved: nothing else that needs one fits there now
    node = stack.swarm.manager.api().inspect_node(engine.node_id)
    assert node["Description"]["Resources"]["GenericResources"] == [
        {"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 1}}
    ]
    stack.stop_server("gina")


def test_a_profile_no_node_can_take_fails_with_the_schedulers_reason(swarm_stack):
    stack = swarm_stack
    stack.login("erin")
    t0 = time.monotonic()
    r = stack.request_server("erin", {"profile": "huge"})
    if r.status_code == 202:
        stack.wait_stopped("erin", timeout=PENDING_TIMEOUT + 40)
        message = stack.hub.log_tail(40)
    else:
        message = r.text
    assert time.monotonic() - t0 < PENDING_TIMEOUT + 40
    assert "No node of the swarm can take this server" in message and "insufficient resources" in message, message
    wait_gone(stack, "erin")
    print(json.dumps(stack.timings))
