"""Hole (part of "hardening lived in a hook"): an existing user network with inter-container
traffic on was used as it was, so one user's container could reach another's server.

Control: the spawner checks the network it is given (``_ensure_network``) and refuses one where
containers can reach each other unless the admin YAML says ``network.containers_can_talk: true``.
"""

import time

import docker
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def open_network():
    client = docker.from_env()
    net = client.networks.create("jdstest-open-net", driver="bridge", labels={"org.jupyterhub-ds.test": "open"})
    yield net.name
    net.remove()


@pytest.fixture(scope="module")
def sandbox_yaml_changes(open_network):
    def change(config):
        config["network"]["name"] = open_network  # exists, inter-container traffic on (Docker's default)
        return config

    return change


def test_a_network_where_containers_talk_is_refused_unless_the_yaml_says_so(sandbox):
    sandbox.login("alice")
    r = sandbox.hub.api("POST", "/users/alice/server", json={"profile": "small"})
    if r.status_code in (201, 202):
        for _ in range(60):
            model = sandbox.hub.api("GET", "/users/alice").json()
            if not model.get("pending"):
                break
            time.sleep(0.5)
        assert not model["servers"], model
    assert sandbox.containers("alice") == []
    log = sandbox.hub.log_text()
    assert "lets containers reach each other" in log and "containers_can_talk: true" in log
