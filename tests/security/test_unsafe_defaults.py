"""Hole: unsafe defaults. Without ``JUPYTERHUB_DS_CONFIG`` the hub loaded the example YAML (whose
``admin_users`` named a real-looking user), and the example bound the hub API on 0.0.0.0:8081.

Controls: the hub refuses to start without an admin YAML named in the environment; the example
binds the user network's gateway; check-config names an API bound on every address as unsafe.
"""

import os
import subprocess

import pytest
import yaml

from jupyterhub_ds.config.loader import check_file, unsafe_lines
from tests.integration.test_hub_refuses_bad_config import HUB_CONFIG, hub_args, hub_env

EXAMPLE = HUB_CONFIG.with_name("jupyterhub_ds.yaml")


@pytest.mark.integration
def test_the_hub_refuses_to_start_without_an_admin_yaml(tmp_path):
    env = {
        k: v
        for k, v in hub_env(EXAMPLE, GITLAB_CLIENT_SECRET="s", JUPYTERHUB_CRYPT_KEY="ab" * 32).items()
        if k != "JUPYTERHUB_DS_CONFIG"
    }
    args, _ = hub_args()
    proc = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "refusing to start: JUPYTERHUB_DS_CONFIG is not set" in proc.stderr
    assert not (tmp_path / "jupyterhub.sqlite").exists()  # nothing was started or created


@pytest.mark.unit
def test_the_example_is_safe_and_an_api_on_every_address_is_named(tmp_path):
    lines, config = check_file(EXAMPLE)
    assert lines == [] and unsafe_lines(EXAMPLE, config) == []
    assert config["hub"]["admin_users"] == [] and "0.0.0.0" not in config["hub"]["hub_bind_url"]
    data = yaml.safe_load(EXAMPLE.read_text())
    data["hub"]["hub_bind_url"] = "http://0.0.0.0:8081"
    # (the example's relative paths are taken from its own folder)
    data["review"]["allowed_packages_lock"] = str(EXAMPLE.parent / data["review"]["allowed_packages_lock"])
    data["packages"]["allowed_lock"] = str(EXAMPLE.parent / data["packages"]["allowed_lock"])
    changed = tmp_path / "admin.yaml"
    changed.write_text(yaml.safe_dump(data))
    lines, config = check_file(changed)
    assert lines == []
    [named] = unsafe_lines(changed, config)
    assert "hub.hub_bind_url: unsafe: the hub API listens on every address" in named
    assert os.path.basename(str(changed)) in named


@pytest.mark.unit
def test_an_admin_yaml_without_an_audit_trail_is_named(tmp_path):
    """No audit.path: nothing records who logged in, spawned, submitted or promoted; allowed
    (a test hub), but named by check-config like every other weakening."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["review"]["allowed_packages_lock"] = str(EXAMPLE.parent / data["review"]["allowed_packages_lock"])
    data["packages"]["allowed_lock"] = str(EXAMPLE.parent / data["packages"]["allowed_lock"])
    del data["audit"]
    changed = tmp_path / "admin.yaml"
    changed.write_text(yaml.safe_dump(data))
    lines, config = check_file(changed)
    assert lines == []
    [named] = unsafe_lines(changed, config)
    assert "audit.path: unsafe: no audit trail" in named and "set audit.path" in named
