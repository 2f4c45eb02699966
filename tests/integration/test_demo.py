"""The README's demo command: GitLab stand-in + hub from hub_config/demo.yaml, as a newcomer sees it."""

import signal
import subprocess
import sys
import time

import pytest
import yaml
from bs4 import BeautifulSoup

from tests.fixtures.hub import REPO_ROOT, free_ports
from tests.fixtures.hub_login import login_via_gitlab

pytestmark = pytest.mark.integration

SEED = yaml.safe_load((REPO_ROOT / "tests" / "fake_gitlab" / "demo_seed.yaml").read_text())
PASSWORDS = {u["username"]: u["password"] for u in SEED["users"]}


@pytest.fixture
def demo(tmp_path):
    hub_port, api_port, gitlab_port = free_ports(3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.demo", "--hub-port", str(hub_port), "--hub-api-port", str(api_port),
         "--gitlab-port", str(gitlab_port), "--work-dir", str(tmp_path / "demo")],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    banner = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        banner.append(line)
        if "Ctrl-C stops the demo" in line or (not line and proc.poll() is not None):
            break
    text = "".join(banner)
    assert "jupyterhub-ds demo is running" in text, text
    yield f"http://localhost:{hub_port}", text, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


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
