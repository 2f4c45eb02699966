"""Hole: hardening lived in a hook that admins own. The profile limits and the hardening were
applied in ``apply_user_options``, JupyterHub's hook for admins: an admin setting it (or
``extra_host_config`` in jupyterhub_config.d) silently dropped cap-drop, no-new-privileges and
pids limits. And a profile with several images could not start the non-default one.

Control: ``ProfileSpawnerMixin.load_user_options``, a step the spawner owns at every start,
after the admin's hooks; their settings are merged with the hardening (``merge_host_config``):
added to, never silently weakened. A setting that would weaken it is refused with the reason.
"""

import time

import pytest
import requests

from tests.fixtures.sandbox import IMAGE, GiB

pytestmark = pytest.mark.integration

SECOND_IMAGE = "jupyterhub-ds/singleuser:security-test-second"

ADMIN_HOOKS = """
# an admin's own settings in jupyterhub_config.d: a hook of theirs, and extra host config
def admin_hook(spawner, user_options):
    spawner.mem_limit = "8G"            # the profile's limit must still hold
    spawner.extra_host_config = {"dns_search": ["corp.example"]}
    if spawner.user.name == "frank":
        spawner.extra_host_config = {"privileged": True}
    if spawner.user.name == "hank":
        spawner.extra_host_config = {"cap_add": ["SYS_ADMIN"], "pids_limit": 0}

c.Spawner.apply_user_options = admin_hook
"""


@pytest.fixture(scope="module")
def sandbox_config_d():
    return {"50-admin-hooks.py": ADMIN_HOOKS}


@pytest.fixture(scope="module")
def sandbox_yaml_changes(sandbox_second_image):
    def change(config):
        config["images"]["allowed"] = [IMAGE, SECOND_IMAGE]
        config["profiles"].append(
            {
                "slug": "choice",
                "images": [IMAGE, SECOND_IMAGE],
                "cpu_limit": 1,
                "mem_limit": "1G",
                "allowed_groups": ["data-science/analysts"],
            }
        )
        return config

    return change


@pytest.fixture(scope="module")
def sandbox_second_image():
    import docker

    client = docker.from_env()
    client.images.get(IMAGE).tag(SECOND_IMAGE)
    yield SECOND_IMAGE
    client.images.remove(SECOND_IMAGE, noprune=True)


def test_an_admins_hook_cannot_drop_the_hardening_or_the_profile_limits(sandbox):
    sandbox.login("alice")
    sandbox.start_server("alice", {"profile": "small"})
    (container,) = sandbox.containers("alice")
    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges:true" in host["SecurityOpt"]
    assert host["PidsLimit"] == 200 and host["Memory"] == GiB  # the profile's, not the hook's 8G
    assert host["DnsSearch"] == ["corp.example"]  # what the admin added is kept
    rc, status = sandbox.exec("alice", "grep -E '^(NoNewPrivs|CapEff)' /proc/self/status")
    assert "NoNewPrivs:\t1" in status and "CapEff:\t0000000000000000" in status, status


@pytest.mark.parametrize("user, reason", [("frank", "privileged=True"), ("hank", "cap_add=['SYS_ADMIN']")])
def test_admin_settings_that_would_weaken_the_hardening_are_refused_with_the_reason(sandbox, user, reason):
    sandbox.login(user)
    r = sandbox.hub.api("POST", f"/users/{user}/server", json={"profile": "small"})
    if r.status_code in (201, 202):  # the spawn may fail after the API call returned
        for _ in range(60):
            model = sandbox.hub.api("GET", f"/users/{user}").json()
            if not model.get("pending"):
                break
            time.sleep(0.5)
        assert not model["servers"], model
    else:
        assert r.status_code == 500, r.text
    assert sandbox.containers(user) == []
    assert reason in sandbox.hub.log_text()


def test_a_profile_with_several_images_starts_the_one_chosen(sandbox):
    sandbox.login("erin")
    sandbox.start_server("erin", {"profile": "choice", "image": SECOND_IMAGE})
    (container,) = sandbox.containers("erin")
    assert container.attrs["Config"]["Image"] == SECOND_IMAGE
    token = sandbox.user_token("erin")
    r = requests.get(f"{sandbox.hub.url}/user/erin/api/status", headers={"Authorization": f"token {token}"}, timeout=30)
    assert r.status_code == 200
