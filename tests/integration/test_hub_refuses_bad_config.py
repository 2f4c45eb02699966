"""The real ``jupyterhub -f hub_config/jupyterhub_config.py`` refuses a bad admin YAML (and
missing secrets) with the same lines as check-config, and starts with a good one."""

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.hub import CHP_LOCAL, free_ports, stop_orphan_proxy

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HUB_CONFIG = ROOT / "hub_config" / "jupyterhub_config.py"
JUPYTERHUB = ROOT / ".venv" / "bin" / "jupyterhub"
BAD = ROOT / "tests" / "unit" / "config_cases" / "bad"
SECRETS = {"GITLAB_CLIENT_SECRET": "demo-secret", "JUPYTERHUB_CRYPT_KEY": "ab" * 32}


def hub_env(yaml_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("GITLAB_CLIENT_SECRET", "JUPYTERHUB_CRYPT_KEY")}
    env["JUPYTERHUB_DS_CONFIG"] = str(yaml_path)
    env["PATH"] = f"{CHP_LOCAL.parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def hub_args():
    """Loopback and free ports, in case the hub would (wrongly) start."""
    proxy, hub, api = free_ports(3)
    return [
        str(JUPYTERHUB),
        "-f",
        str(HUB_CONFIG),
        f"--JupyterHub.bind_url=http://127.0.0.1:{proxy}",
        f"--JupyterHub.hub_bind_url=http://127.0.0.1:{hub}",
        "--JupyterHub.hub_connect_ip=127.0.0.1",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api}",
    ], proxy


def run_hub_expecting_refusal(yaml_path, env, cwd):
    args, _ = hub_args()
    started = time.monotonic()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - started


@pytest.mark.parametrize("stem", ["mem_limit_not_a_size", "client_secret_in_yaml", "lanes_cycle"])
def test_hub_refuses_a_bad_file_with_the_check_config_lines(stem, tmp_path):
    bad = BAD / f"{stem}.yaml"
    proc, elapsed = run_hub_expecting_refusal(bad, hub_env(bad, **SECRETS), tmp_path)
    assert proc.returncode != 0
    assert elapsed < 30
    expected = (bad.with_suffix(".expected")).read_text().replace("{file}", str(bad)).splitlines()
    for line in expected:
        assert line in proc.stderr.splitlines(), proc.stderr
    assert "refusing to start" in proc.stderr
    assert not (tmp_path / "jupyterhub.sqlite").exists()  # nothing was set up half-way


def test_hub_refuses_a_good_file_without_the_gitlab_secret(tmp_path):
    demo = ROOT / "hub_config" / "demo.yaml"
    env = hub_env(demo, JUPYTERHUB_CRYPT_KEY="ab" * 32)
    proc, elapsed = run_hub_expecting_refusal(demo, env, tmp_path)
    assert proc.returncode != 0
    assert elapsed < 30
    assert (
        f"{demo}: env GITLAB_CLIENT_SECRET: not set; export GITLAB_CLIENT_SECRET "
        "(the secret of the GitLab OAuth application gitlab.client_id)"
    ) in proc.stderr.splitlines(), proc.stderr


def test_hub_starts_with_the_demo_file_and_all_secrets(tmp_path):
    demo = ROOT / "hub_config" / "demo.yaml"
    args, proxy = hub_args()
    log = open(tmp_path / "hub.log", "w")
    proc = subprocess.Popen(
        args,
        env=hub_env(demo, **SECRETS, JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN="bot-token"),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = requests.get(f"http://127.0.0.1:{proxy}/hub/health", timeout=2).status_code
                if status == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        assert status == 200, (tmp_path / "hub.log").read_text()
        login = requests.get(f"http://127.0.0.1:{proxy}/hub/login", timeout=5)
        assert login.status_code == 200
        assert "GitLab" in login.text
    finally:
        stopped = time.monotonic()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        took = time.monotonic() - stopped
        log.close()
        stop_orphan_proxy(tmp_path)
    # the demo's promotion service cannot reach its GitLab here: it still stops at once, and so
    # does the hub (its proxy with it) rather than after the 15 s it gives a service
    assert proc.returncode == 0 and took < 10, (
        f"{proc.returncode} after {took:.1f}s\n" + (tmp_path / "hub.log").read_text()[-3000:]
    )
