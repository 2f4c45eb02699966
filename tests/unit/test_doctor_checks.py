"""The doctor's checks on plain data: a hardened user container and each way one is not, the
images, the crypt key, origins, TLS, the network, and what the isolation probe tries."""

from __future__ import annotations

import copy

import pytest

from jupyterhub_ds.config.schema import with_defaults
from jupyterhub_ds.doctor import checks as C
from jupyterhub_ds.doctor import probe as P

pytestmark = pytest.mark.unit

CONFIG = with_defaults(
    {
        "hub": {
            "public_url": "http://127.0.0.1:8000/",
            "bind": "http://127.0.0.1:8000",
            "hub_bind_url": "http://172.30.0.1:8081",
            "hub_connect_ip": "172.30.0.1",
        },
        "gitlab": {"url": "https://gitlab.example.com", "client_id": "x"},
        "profiles": [{"slug": "small", "images": ["ds/a:1", "ds/b:1"]}],
        "images": {"default": "ds/a:1"},
        "network": {"name": "users"},
    }
)

HARDENED = {
    "Name": "/jupyter-alice",
    "Config": {"User": "1000", "Labels": {"org.jupyterhub-ds.user": "alice", "org.jupyterhub-ds.profile": "small"}},
    "HostConfig": {
        "SecurityOpt": ["no-new-privileges:true"],
        "CapDrop": ["ALL"],
        "CapAdd": None,
        "Privileged": False,
        "NanoCpus": 1_000_000_000,
        "Memory": 2**30,
        "MemorySwap": 2**30,
        "PidsLimit": 1024,
    },
    "Mounts": [{"Source": "/var/lib/docker/volumes/home-alice/_data"}],
    "NetworkSettings": {"Networks": {"users": {}}},
}


def weakened(**changes):
    inspect = copy.deepcopy(HARDENED)
    for key, value in changes.items():
        section, field = key.split("__")
        inspect[section][field] = value
    return inspect


@pytest.mark.parametrize(
    "inspect, problem",
    [
        (weakened(Config__User=""), "runs as root"),
        (weakened(Config__User="0:0"), "runs as root"),
        (weakened(HostConfig__SecurityOpt=[]), "lacks no-new-privileges (hardening.no_new_privileges)"),
        (weakened(HostConfig__CapDrop=["NET_RAW"]), "does not drop every capability"),
        (weakened(HostConfig__CapAdd=["CAP_SYS_ADMIN"]), "capabilities added back beyond hardening.cap_add: SYS_ADMIN"),
        (weakened(HostConfig__Privileged=True), "is privileged"),
        (weakened(HostConfig__NanoCpus=0), "has no CPU limit"),
        (weakened(HostConfig__Memory=0), "has no memory limit"),
        (weakened(HostConfig__MemorySwap=-1), "may swap beyond its memory limit"),
        (weakened(HostConfig__PidsLimit=0), "has no process limit"),
        (weakened() | {"Mounts": [{"Source": "/var/run/docker.sock"}]}, "has the Docker socket mounted"),
        (
            weakened() | {"NetworkSettings": {"Networks": {"users": {}, "bridge": {}}}},
            "is on the network(s) bridge, users",
        ),
    ],
)
def test_each_weakened_setting_of_a_user_container_fails_naming_it(inspect, problem):
    assert C.container_problems(HARDENED, CONFIG) == []
    [found] = C.container_problems(inspect, CONFIG)
    assert problem in found
    [check] = C.container_checks(CONFIG, [inspect])
    assert check.status == C.FAIL and check.name == "user container jupyter-alice (alice, small)"


def test_quota_limits_and_allowed_capabilities_pass():
    config = copy.deepcopy(CONFIG)
    config["hardening"]["cap_add"] = ["SYS_PTRACE"]
    inspect = weakened(HostConfig__NanoCpus=0, HostConfig__CapAdd=["SYS_PTRACE"])
    inspect["HostConfig"].update(CpuQuota=50000, CpuPeriod=100000)
    assert C.container_problems(inspect, config) == []
    assert [c.status for c in C.container_checks(CONFIG, [])] == [C.SKIP]


def test_images_must_be_there_and_labelled():
    found = {"ds/a:1": {"org.jupyterhub-ds.version": "0.1.0", "org.jupyterhub-ds.packages": "a==1,b==2"}, "ds/b:1": {}}
    checks = C.image_checks(CONFIG, found)
    assert [(c.name, c.status) for c in checks] == [("image ds/a:1", C.PASS), ("image ds/b:1", C.FAIL)]
    assert "2 packages recorded" in checks[0].detail and "lacks the label(s)" in checks[1].detail
    assert C.image_checks(CONFIG, {})[0].detail == "not on this Docker engine"


@pytest.mark.parametrize(
    "value, status",
    [
        ("", C.FAIL),
        ("ab" * 32, C.PASS),
        ("ab" * 16, C.FAIL),
        ("A" * 43 + "=", C.PASS),
        (f"{'ab' * 32};{'cd' * 32}", C.PASS),
    ],
)
def test_the_crypt_key_must_be_32_bytes(value, status):
    assert C.crypt_key_check({"JUPYTERHUB_CRYPT_KEY": value}).status == status


def test_origins_tls_and_network():
    assert C.subdomain_check(CONFIG).status == C.FAIL
    accepted = copy.deepcopy(CONFIG)
    accepted["hub"]["single_origin_reason"] = "loopback only"
    assert C.subdomain_check(accepted).detail == "one origin for every server, accepted: loopback only"
    assert C.tls_check(CONFIG).detail.startswith("local only")
    public = copy.deepcopy(CONFIG)
    public["hub"].update(bind="http://0.0.0.0:8000", public_url="http://hub.example.com/")
    assert C.tls_check(public).status == C.FAIL
    public["hub"]["public_url"] = "https://hub.example.com/"
    assert C.tls_check(public, (200, "")).status == C.PASS
    assert C.tls_check(public, (None, "certificate verify failed")).status == C.FAIL
    isolated = {"Driver": "bridge", "Options": {"com.docker.network.bridge.enable_icc": "false"}}
    assert C.network_check(CONFIG, isolated).status == C.PASS
    assert C.network_check(CONFIG, {"Driver": "bridge", "Options": {}}).status == C.FAIL
    assert C.network_check(CONFIG, None).status == C.FAIL


def test_the_probe_tries_the_hub_api_and_what_must_stay_out_of_reach():
    config = copy.deepcopy(CONFIG)
    config["hub"]["db_url"] = "postgresql://hub@127.0.0.1/jupyterhub"
    config["promotion"]["database_url"] = "postgresql+psycopg://promo@db.internal:6432/promotion"
    config["promotion"]["projects"] = [{"port": 1}]
    found = P.targets(config, "172.30.0.1", "http://127.0.0.1:8001")
    assert [(t.name, t.host, t.port, t.must_answer) for t in found] == [
        ("hub API", "172.30.0.1", 8081, True),
        ("proxy API", "172.30.0.1", 8001, False),  # loopback on the hub host: tried on the gateway
        ("hub database", "172.30.0.1", 5432, False),
        ("promotion database", "db.internal", 6432, False),
        ("promotion service port", "172.30.0.1", 10101, False),
        ("Docker API :2375", "172.30.0.1", 2375, False),
        ("Docker API :2376", "172.30.0.1", 2376, False),
    ]
    checks = P.probe_checks(found, ["open", "open"] + ["ConnectionRefusedError"] * 5)
    assert [c.status for c in checks] == [C.PASS, C.FAIL] + [C.PASS] * 5
    assert "route any URL anywhere" in checks[1].fix
    assert [c.status for c in P.probe_checks(found, ["TimeoutError"] * 7)][0] == C.FAIL  # servers need the hub
    assert [t.name for t in P.targets(CONFIG, "172.30.0.1")][:2] == ["hub API", "proxy API"]  # SQLite: a file
