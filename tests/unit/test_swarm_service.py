"""Swarm service settings (spawner/service.py, pure), the parity table, check-config on
``spawner.kind: swarm``, and the Swarm spawner's own steps with a stand-in for the engine."""

import asyncio
import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from jupyterhub_ds.config import check_file
from jupyterhub_ds.config.schema import SCHEMA
from jupyterhub_ds.spawner import container, service
from jupyterhub_ds.spawner.container import Hardening, HardeningConflict
from jupyterhub_ds.spawner.profiles import ResolvedProfile

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
GiB = 1024**3
CMD = ["jupyterhub-singleuser", "--ServerApp.shutdown_no_activity_timeout=600"]


def profile(**kw):
    return ResolvedProfile(**{"slug": "small", "display_name": "Small", "image": "img", **kw})


# ---- the service spec ------------------------------------------------------------------


def test_default_hardening_becomes_the_container_spec():
    spec = service.container_spec(CMD, Hardening())
    assert spec == {"args": ["setpriv", "--no-new-privs", "--", *CMD], "user": "1000", "cap_drop": ["ALL"]}
    relaxed = Hardening(user="", no_new_privileges=False, cap_drop=(), cap_add=("SYS_PTRACE",), read_only_rootfs=True)
    assert service.container_spec(CMD, relaxed) == {"args": CMD, "cap_add": ["SYS_PTRACE"], "read_only": True}


def test_profile_becomes_limits_and_reservations():
    r = profile(cpu_limit=2.0, mem_limit=4 * GiB, cpu_guarantee=0.5, mem_guarantee=GiB, gpus=2)
    assert service.resources(r, Hardening()) == {
        "Limits": {"NanoCPUs": 2 * 10**9, "MemoryBytes": 4 * GiB, "Pids": 1024},
        "Reservations": {
            "NanoCPUs": 5 * 10**8,
            "MemoryBytes": GiB,
            "GenericResources": [{"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": 2}}],
        },
    }
    assert service.resources(profile(pids_limit=50), Hardening(default_pids_limit=None)) == {"Limits": {"Pids": 50}}
    assert service.resources(profile(), Hardening(default_pids_limit=None)) == {}
    with pytest.raises(service.ServiceSpecError, match="all GPUs"):
        service.resources(profile(gpus=-1), Hardening())


def test_volumes_become_named_volumes_binds_and_a_tmpfs_for_a_read_only_root():
    vols = {"jds-home-alice": {"bind": "/home/jovyan", "mode": "rw"}, "/srv/data": {"bind": "/data", "mode": "ro"}}
    assert service.mounts(vols, Hardening(read_only_rootfs=True)) == [
        {"target": "/home/jovyan", "source": "jds-home-alice", "type": "volume", "read_only": False},
        {"target": "/data", "source": "/srv/data", "type": "bind", "read_only": True},
        {"target": "/tmp", "source": None, "type": "tmpfs", "tmpfs_size": GiB},
    ]


def test_placement_is_the_profiles_plus_the_home_node():
    r = profile(placement=("node.labels.gpu==true",))
    assert service.constraints(r) == ["node.labels.gpu==true"]
    assert service.constraints(r, "abc123") == ["node.labels.gpu==true", "node.id==abc123"]
    assert service.merge_placement({"constraints": ["node.role==worker"], "preferences": ["x"]}, ["node.id==a"]) == {
        "constraints": ["node.role==worker", "node.id==a"],
        "preferences": ["x"],
    }


# ---- the admin's extra_* merged with ours ---------------------------------------------------


@pytest.mark.parametrize(
    "admin, message",
    [
        ({"user": "0"}, "differs from the hardening's user"),
        ({"cap_add": ["SYS_ADMIN"]}, "adds capabilities"),
        ({"read_only": False}, "undoes hardening.read_only_rootfs"),
        ({"args": ["bash"]}, "is the spawner's"),
        ({"command": ["sh"]}, "is the spawner's"),
        ({"privileges": {"SELinuxContext": {"Disable": True}}}, "disables SELinux"),
    ],
)
def test_admin_container_spec_may_not_weaken_the_hardening(admin, message):
    ours = service.container_spec(CMD, Hardening(read_only_rootfs=True))
    with pytest.raises(HardeningConflict, match=message):
        service.merge_container_spec(admin, ours, Hardening(read_only_rootfs=True))


def test_admin_container_spec_may_add():
    ours = service.container_spec(CMD, Hardening())
    merged = service.merge_container_spec(
        {"cap_drop": ["NET_RAW"], "hostname": "lab", "read_only": True, "user": "1000"}, ours, Hardening()
    )
    assert merged["cap_drop"] == ["ALL", "NET_RAW"] and merged["hostname"] == "lab" and merged["read_only"] is True
    assert merged["args"][:3] == ["setpriv", "--no-new-privs", "--"]


def test_admin_resources_keep_the_stricter_limit_and_the_larger_reservation():
    ours = {"Limits": {"MemoryBytes": 4 * GiB, "Pids": 100}, "Reservations": {"NanoCPUs": 10**9}}
    merged = service.merge_resources({"mem_limit": 2 * GiB, "cpu_limit": 3 * 10**9, "cpu_reservation": 5 * 10**8}, ours)
    assert merged == {
        "Limits": {"MemoryBytes": 2 * GiB, "Pids": 100, "NanoCPUs": 3 * 10**9},
        "Reservations": {"NanoCPUs": 10**9},
    }
    assert service.merge_resources({"mem_limit": 8 * GiB}, ours)["Limits"]["MemoryBytes"] == 4 * GiB
    for bad in ({"generic_resources": {"gpu": 1}}, {"pids": 5}):
        with pytest.raises(HardeningConflict):
            service.merge_resources(bad, ours)


def test_admin_task_and_create_kwargs_may_not_replace_the_service():
    service.check_task_and_create_kwargs({"restart_policy": {}, "log_driver": {}}, {"labels": {"a": "b"}})
    for task, create in (({"resources": {}}, {}), ({"networks": ["x"]}, {}), ({}, {"mode": {}}), ({}, {"name": "x"})):
        with pytest.raises(HardeningConflict):
            service.check_task_and_create_kwargs(task, create)


# ---- the parity table ----------------------------------------------------------------------


def test_every_hardening_option_and_host_config_setting_has_a_parity_row():
    rows = {row.setting: row for row in service.SWARM_PARITY}
    assert all(row.swarm in (service.APPLIED, service.ANOTHER_WAY, service.REFUSED) for row in rows.values())
    for key in SCHEMA["$defs"]["hardening"]["properties"]:
        assert any(setting.startswith(f"hardening.{key}") or f", hardening.{key}" in setting for setting in rows), key
    everything = container.host_config(
        profile(mem_limit=GiB, mem_guarantee=GiB, cpu_guarantee=1.0, gpus=1, pids_limit=5),
        Hardening(cap_add=("CHOWN",), read_only_rootfs=True, runtime="runsc"),
    )
    assert set(everything) == set(service.HOST_CONFIG_PARITY)
    assert set(service.HOST_CONFIG_PARITY.values()) <= set(rows)


def test_the_docs_print_the_parity_table():
    doc = (ROOT / "docs" / "scale-out.md").read_text()
    for row in service.SWARM_PARITY:
        line = next((ln for ln in doc.splitlines() if ln.startswith(f"| {row.setting} |")), None)
        assert line is not None, f"docs/scale-out.md has no row for {row.setting}"
        assert f"| {row.swarm} |" in line, line


# ---- check-config with spawner.kind: swarm --------------------------------------------------

BASE = {
    "gitlab": {"url": "https://gitlab.example.com", "client_id": "id"},
    "auth": {"allowed_groups": ["ds"]},
    "profiles": [{"slug": "small", "cpu_limit": 1, "mem_limit": "1G"}],
    "spawner": {"kind": "swarm"},
    "hardening": {"allow_swap": True},
    "network": {"containers_can_talk": True},
}


def problems(tmp_path, change):
    data = copy.deepcopy(BASE)
    for path, value in change.items():
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
        node[path[-1]] = value
    path = tmp_path / "admin.yaml"
    path.write_text(yaml.safe_dump(data))
    return check_file(path)[0]


def test_a_swarm_config_that_says_what_swarm_cannot_enforce_passes(tmp_path):
    assert (
        problems(
            tmp_path,
            {
                ("profiles", 0, "placement"): ["node.labels.gpu == true"],
                ("network", "encrypted"): True,
                ("profiles", 0, "gpus"): 1,
            },
        )
        == []
    )


@pytest.mark.parametrize(
    "change, where, says",
    [
        ({("hardening", "allow_swap"): False}, "hardening.allow_swap", "set allow_swap: true"),
        ({("hardening", "runtime"): "runsc"}, "hardening.runtime", "default-runtime"),
        ({("network", "containers_can_talk"): False}, "network.containers_can_talk", "no switch for inter-container"),
        ({("spawner", "pull_policy"): "never"}, "spawner.pull_policy", "use ifnotpresent"),
        ({("spawner", "remove_on_stop"): False}, "spawner.remove_on_stop", "always removed"),
        ({("profiles", 0, "gpus"): -1}, "profiles[0].gpus", "by count only"),
        (
            {("spawner", "kind"): "docker", ("profiles", 0, "placement"): ["node.role==worker"]},
            "profiles[0].placement",
            "need spawner.kind: swarm",
        ),
        ({("spawner", "kind"): "docker", ("network", "encrypted"): True}, "network.encrypted", "only Swarm overlay"),
        ({("profiles", 0, "placement"): ["gpu==true"]}, "profiles[0].placement[0]", "Swarm placement constraint"),
    ],
)
def test_what_swarm_cannot_enforce_is_refused_with_the_fix(tmp_path, change, where, says):
    lines = problems(tmp_path, change)
    assert len(lines) == 1 and f": {where}:" in lines[0] and says in lines[0], lines


def test_every_refused_parity_row_is_refused_by_check_config(tmp_path):
    refused_by_yaml = {
        "hardening.allow_swap: false": {("hardening", "allow_swap"): False},
        "hardening.runtime": {("hardening", "runtime"): "runsc"},
        "profiles[].gpus: -1": {("profiles", 0, "gpus"): -1},
        "network.containers_can_talk: false": {("network", "containers_can_talk"): False},
    }
    for row in service.SWARM_PARITY:
        if row.swarm != service.REFUSED:
            continue
        if row.setting == "admin extra_host_config":  # not in the YAML: the spawner refuses it
            continue
        assert problems(tmp_path, refused_by_yaml[row.setting]), row.setting


# ---- the spawner's own steps, with a stand-in for the engine --------------------------------


class FakeEngine:
    """Answers the docker-py calls the spawner makes, from canned data; records the calls."""

    def __init__(self, **answers):
        self.answers, self.calls = answers, []

    def __call__(self, method, *args, **kwargs):
        self.calls.append((method, args, kwargs))
        answer = self.answers.get(method)
        result = answer(*args, **kwargs) if callable(answer) else answer

        async def done():
            return result

        return done()


def swarm_spawner(**config):
    from jupyterhub_ds.spawner.swarm import ProfileSwarmSpawner

    user = SimpleNamespace(name="alice", groups=[], url="/user/alice/", escaped_name="alice")
    spawner = ProfileSwarmSpawner(user=user, **config)
    return spawner


def test_the_home_node_outlives_the_server_but_the_task_does_not():
    spawner = swarm_spawner()
    spawner.load_state(
        {"object_id": "svc", "object_name": "jupyter-alice", "task_id": "t1", "node_id": "n1", "home_node": "n1"}
    )
    assert spawner.get_state()["task_id"] == "t1"
    spawner.clear_state()
    state = spawner.get_state()
    assert "task_id" not in state and "node_id" not in state and state["home_node"] == "n1"
    assert spawner._home_constraint_node() == "n1"
    spawner.home_nodes = {"alice": "node-7"}  # an admin moved her home
    assert spawner._home_constraint_node() == "node-7"
    assert swarm_spawner(pin_home_to_node=False)._home_constraint_node() == ""


def test_the_user_network_is_created_as_an_attachable_overlay():
    spawner = swarm_spawner(network_name="jds-users", encrypt_network=True)
    spawner.docker = FakeEngine(networks=[], create_network={"Id": "x"})
    asyncio.run(spawner._ensure_network())
    (_, (name,), kwargs) = spawner.docker.calls[-1]
    assert name == "jds-users"
    assert kwargs["driver"] == "overlay" and kwargs["attachable"] is True and kwargs["options"] == {"encrypted": ""}


@pytest.mark.parametrize(
    "network, message",
    [
        ({"Name": "jds-users", "Driver": "bridge", "Scope": "local"}, "need an overlay network"),
        ({"Name": "jds-users", "Driver": "overlay", "Scope": "swarm", "Options": {}}, "is not encrypted"),
    ],
)
def test_an_unfit_existing_network_is_refused(network, message):
    from tornado import web

    spawner = swarm_spawner(network_name="jds-users", encrypt_network=True)
    spawner.docker = FakeEngine(networks=[network])
    with pytest.raises(web.HTTPError, match=message):
        asyncio.run(spawner._ensure_network())


def test_poll_says_why_the_task_stopped_and_removes_the_service():
    spawner = swarm_spawner()
    spawner.load_state({"object_id": "svc", "object_name": "jupyter-alice", "task_id": "t1", "node_id": "n1"})
    task = {
        "ID": "t1",
        "NodeID": "n1",
        "DesiredState": "shutdown",
        "Status": {"State": "shutdown", "Message": "shutdown"},
    }
    node = {"ID": "n1", "Spec": {"Availability": "drain"}, "Description": {"Hostname": "worker-1"}}
    spawner.docker = FakeEngine(inspect_service={"ID": "svc"}, tasks=[task], inspect_node=node, remove_service=None)
    status = asyncio.run(spawner.poll())
    assert status == "task shutdown (desired shutdown) on node worker-1 (node drain): shutdown"
    assert ("remove_service", ("svc",), {}) in spawner.docker.calls
    task.update(DesiredState="running", Status={"State": "running"})
    spawner.load_state({"object_id": "svc", "object_name": "jupyter-alice", "task_id": "t1", "node_id": "n1"})
    assert asyncio.run(spawner.poll()) is None


def test_the_server_address_is_the_tasks_on_the_user_network():
    spawner = swarm_spawner(network_name="jds-users")
    task = {
        "ID": "t1",
        "Status": {"State": "running"},
        "NetworksAttachments": [
            {"Network": {"Spec": {"Name": "ingress"}}, "Addresses": ["10.0.0.5/24"]},
            {"Network": {"Spec": {"Name": "jds-users"}}, "Addresses": ["10.214.7.9/24"]},
        ],
    }
    spawner.object_id = "svc"
    spawner.docker = FakeEngine(inspect_service={"ID": "svc"}, tasks=[task])
    assert asyncio.run(spawner.get_ip_and_port()) == ("10.214.7.9", spawner.port)


def test_parity_rows_are_plain_data():
    assert json.loads(json.dumps([row.__dict__ for row in service.SWARM_PARITY]))


def test_a_task_swarm_rejects_fails_the_start_with_its_reason_and_leaves_no_service():
    from tornado import web

    spawner = swarm_spawner()
    spawner.object_id = "svc"
    task = {
        "ID": "t1",
        "NodeID": "n1",
        "DesiredState": "running",
        "Status": {"State": "rejected", "Err": "No such image: img:1"},
    }
    spawner.docker = FakeEngine(
        inspect_service={"ID": "svc"},
        tasks=[task],
        remove_service=None,
        inspect_node={"ID": "n1", "Description": {"Hostname": "worker-1"}},
    )
    with pytest.raises(web.HTTPError, match="task rejected: No such image: img:1"):
        asyncio.run(spawner.start_object())
    assert ("remove_service", ("svc",), {}) in spawner.docker.calls


def test_a_task_the_engines_constraint_enforcer_rejects_is_replaced_at_start():
    spawner = swarm_spawner()
    spawner.object_id = "svc"
    rejected = {
        "ID": "t1",
        "NodeID": "n1",
        "Status": {"State": "rejected", "Err": "assigned node no longer meets constraints"},
    }
    running = {"ID": "t2", "NodeID": "n1", "Status": {"State": "running"}}
    tasks, calls = iter([rejected, running]), []

    async def get_task():
        return next(tasks)

    async def remove_object():
        calls.append("remove")

    async def get_object():
        return None

    async def create_object():
        calls.append("create")
        return {"ID": "svc2"}

    spawner.get_task, spawner.remove_object, spawner.get_object, spawner.create_object = (
        get_task,
        remove_object,
        get_object,
        create_object,
    )
    spawner.docker = FakeEngine(inspect_node={"ID": "n1", "Description": {"Hostname": "gpu-1"}})
    asyncio.run(spawner.start_object())
    assert calls == ["remove", "create"] and spawner.object_id == "svc2" and spawner.task_id == "t2"
