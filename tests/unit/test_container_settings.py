"""Docker settings derived from a resolved profile and the hardening policy (pure)."""

import pytest

from jupyterhub_ds.spawner import container
from jupyterhub_ds.spawner.profiles import ResolvedProfile

pytestmark = pytest.mark.unit

GiB = 1024**3


def test_hardening_defaults_drop_everything_and_forbid_privilege_gain():
    r = ResolvedProfile(slug="small", display_name="Small", image="img", cpu_limit=2.0, mem_limit=2 * GiB)
    cfg = container.host_config(r, container.Hardening())
    assert cfg == {
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
        "pids_limit": 1024,
        "memswap_limit": 2 * GiB,  # swap limit equal to memory: no swap
    }
    assert container.create_kwargs(container.Hardening()) == {"user": "1000"}


def test_profile_pids_guarantees_and_gpus():
    r = ResolvedProfile(
        slug="gpu",
        display_name="GPU",
        image="img",
        mem_limit=8 * GiB,
        mem_guarantee=4 * GiB,
        cpu_guarantee=1.5,
        pids_limit=256,
        gpus=2,
    )
    cfg = container.host_config(r, container.Hardening())
    assert cfg["pids_limit"] == 256
    assert cfg["mem_reservation"] == 4 * GiB
    assert cfg["cpu_shares"] == 1536
    assert cfg["device_requests"] == [{"Driver": "", "Count": 2, "Capabilities": [["gpu"]]}]


def test_admin_overrides_hardening():
    r = ResolvedProfile(slug="s", display_name="S", image="img", mem_limit=GiB)
    h = container.Hardening(
        user="", no_new_privileges=False, cap_drop=(), cap_add=("SYS_PTRACE",), default_pids_limit=None, swap=True
    )
    assert container.host_config(r, h) == {"cap_add": ["SYS_PTRACE"]}
    assert container.create_kwargs(h) == {}


def test_volumes_home_shared_readonly_and_profile_volumes():
    r = ResolvedProfile(
        slug="s", display_name="S", image="img", volumes={"scratch-{username}": {"bind": "/scratch", "mode": "rw"}}
    )
    vols = container.volumes(
        r,
        home_volume_template="jupyterhub-ds-home-{username}",
        home_mount="/home/jovyan",
        shared_mounts=[{"source": "/srv/data", "target": "/home/jovyan/shared"}],
    )
    assert vols == {
        "jupyterhub-ds-home-{username}": {"bind": "/home/jovyan", "mode": "rw"},
        "/srv/data": {"bind": "/home/jovyan/shared", "mode": "ro"},
        "scratch-{username}": {"bind": "/scratch", "mode": "rw"},
    }
