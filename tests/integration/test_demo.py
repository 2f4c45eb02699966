"""The README's demo command: GitLab stand-in + hub from hub_config/demo.yaml, as a newcomer sees it."""

import secrets
import signal
import sqlite3

import docker
import pytest
import yaml
from bs4 import BeautifulSoup

from tests.fixtures import demo_process
from tests.fixtures.demo_process import stop_demo
from tests.fixtures.hub import REPO_ROOT
from tests.fixtures.hub_login import login_via_gitlab

pytestmark = pytest.mark.integration

SEED = yaml.safe_load((REPO_ROOT / "tests" / "fake_gitlab" / "demo_seed.yaml").read_text())
PASSWORDS = {u["username"]: u["password"] for u in SEED["users"]}


NAME = f"jdstest-demo-{secrets.token_hex(3)}"  # this module's demos: their own network and volumes


def start_demo(work, *extra):
    return demo_process.start_demo(work, NAME, *extra)


@pytest.fixture(scope="module", autouse=True)
def demo_docker_objects():
    yield
    client = docker.from_env()
    for volume in client.volumes.list(filters={"name": f"{NAME}-home-"}):
        volume.remove(force=True)
    for network in client.networks.list(names=[NAME]):
        network.remove()


@pytest.fixture
def demo(tmp_path):
    url, text, proc = start_demo(tmp_path / "demo")
    yield url, text, proc
    stop_demo(proc)


def test_demo_prints_url_and_logins_and_they_work(demo):
    url, banner, proc = demo
    assert f"{url}/" in banner
    for user in ("alice", "bob", "erin", "carol"):
        assert f"{user:<8} {PASSWORDS[user]}" in banner

    alice = login_via_gitlab(url, "alice", PASSWORDS["alice"])
    assert alice.response.status_code == 200
    form = BeautifulSoup(alice.session.get(f"{url}/hub/spawn", timeout=30).text, "html.parser")
    assert [i["value"] for i in form.select("input[name=profile]")] == ["small"]

    bob = login_via_gitlab(url, "bob", PASSWORDS["bob"])
    me = bob.session.get(f"{url}/hub/api/user", timeout=30).json()
    assert me["admin"] is True  # placed in data-science/admins (inheriting it would not do)
    form = BeautifulSoup(bob.session.get(f"{url}/hub/spawn", timeout=30).text, "html.parser")
    assert [i["value"] for i in form.select("input[name=profile]")] == ["small", "large"]

    assert login_via_gitlab(url, "carol", PASSWORDS["carol"]).response.status_code == 403

    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "demo stopped" in out


def test_reset_starts_from_a_clean_state(tmp_path):
    work = tmp_path / "demo"
    url, _, proc = start_demo(work)
    alice = login_via_gitlab(url, "alice", PASSWORDS["alice"])
    assert alice.response.status_code == 200
    client = docker.from_env()
    home = client.volumes.create(f"{NAME}-home-alice")  # as her first server start would leave it
    stop_demo(proc)
    assert (work / "jupyterhub.sqlite").exists() and home.name in [v.name for v in client.volumes.list()]

    url, banner, proc = start_demo(work, "--reset")
    try:
        assert "demo reset: removed" in banner and home.name in banner
        assert home.name not in [v.name for v in client.volumes.list(filters={"name": NAME})]
        # a fresh hub database: nobody has logged in yet
        with sqlite3.connect(work / "jupyterhub.sqlite") as db:
            assert db.execute("select count(*) from users").fetchone()[0] == 0
    finally:
        stop_demo(proc)
