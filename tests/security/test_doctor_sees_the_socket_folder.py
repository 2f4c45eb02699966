"""Hole: ``jupyterhub-ds doctor`` said PASS "no Docker socket" for a user container that had the
host's ``/var/run`` (or ``/run``, or ``/``) mounted: it looked only for a mount whose source ends
in ``docker.sock``, while a mount of the folder gives the container the socket just the same, and
with it root on the host. An admin YAML's shared volume or an ``extra_host_config`` bind of
``/var/run:/host/run`` is enough.

Control (doctor/checks.py): a mount whose source is a folder holding a Docker socket fails the
container's check like a mount of the socket itself.
"""

import copy

import pytest

from jupyterhub_ds.doctor import checks as C
from tests.unit.test_doctor_checks import CONFIG, HARDENED

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("source", ["/var/run", "/run/", "/", "/var/run/docker.sock"])
def test_a_container_with_the_sockets_folder_mounted_fails(source):
    inspect = copy.deepcopy(HARDENED)
    inspect["Mounts"].append({"Type": "bind", "Source": source, "Destination": "/host/run"})
    [check] = C.container_checks(CONFIG, [inspect])
    assert check.status == C.FAIL
    assert "has the Docker socket mounted" in check.detail


@pytest.mark.parametrize("source", ["/srv/data", "/var/lib/docker/volumes/home-alice/_data", "/run/secrets"])
def test_other_mounts_still_pass(source):
    inspect = copy.deepcopy(HARDENED)
    inspect["Mounts"].append({"Type": "bind", "Source": source, "Destination": "/data"})
    [check] = C.container_checks(CONFIG, [inspect])
    assert check.status == C.PASS
