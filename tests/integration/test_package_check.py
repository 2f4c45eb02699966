"""Package governance on real images: an image holding a package outside the allow-list and one
under a refused licence is refused by `jupyterhub-ds packages check`, naming each, and a
promotion clean run on that image refuses it with the same messages."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from jupyterhub_ds.config import load_config
from jupyterhub_ds.image_inputs import LABEL_PACKAGES
from tests.fixtures.promotion import PROJECT, create_lanes, merge_change, promo_seed, run_once, settings

pytestmark = pytest.mark.integration

BASE = "jupyterhub-ds/singleuser:latest"
TEST_LABEL = "org.jupyterhub-ds.test"
UNLISTED = (
    "unlisted-tool 1.0 is not on the package allow-list (packages.allowed, packages.allowed_lock); remove it "
    "from the image or allow it there"
)
COPYLEFT = (
    "copyleft-lib 2.0 is licensed 'AGPL-3.0-or-later', which matches the refused licence 'AGPL'; remove it "
    "from the image or take 'AGPL' out of denied_licenses"
)


def dist_info(name, version, licence):
    """A tar of ``<name>-<version>.dist-info/METADATA``: all importlib.metadata needs."""
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: {licence}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(f"{name.replace('-', '_')}-{version}.dist-info/METADATA")
        info.size, info.mode = len(metadata), 0o644
        tar.addfile(info, io.BytesIO(metadata))
    return buf.getvalue()


@pytest.fixture(scope="module")
def governed_image(tmp_path_factory):
    """The single-user image plus two made-up distributions; an admin YAML whose allow-list is
    what the single-user image holds (its packages label, as a lock) and copyleft-lib."""
    import docker

    client = docker.from_env(timeout=120)
    base = client.images.get(BASE)
    site = (
        client.containers.run(
            BASE,
            ["python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            entrypoint="",
            network_mode="none",
            remove=True,
        )
        .decode()
        .strip()
    )
    tag = f"jupyterhub-ds-test/governed:{secrets.token_hex(4)}"
    container = client.containers.create(BASE, ["true"], entrypoint="", labels={TEST_LABEL: "package-check"})
    try:
        for name, version, licence in (("unlisted-tool", "1.0", "MIT"), ("copyleft-lib", "2.0", "AGPL-3.0-or-later")):
            assert container.put_archive(site, dist_info(name, version, licence))
        image = container.commit(
            repository=tag.split(":")[0], tag=tag.split(":")[1], changes=[f"LABEL {TEST_LABEL}=package-check"]
        )
    finally:
        container.remove(force=True)
    folder = tmp_path_factory.mktemp("admin")
    (folder / "image.lock").write_text(base.labels[LABEL_PACKAGES].replace(",", "\n") + "\n")
    admin = folder / "jupyterhub_ds.yaml"
    admin.write_text(
        yaml.safe_dump(
            {
                "gitlab": {"url": "https://gitlab.example.com", "client_id": "x"},
                "auth": {"allowed_groups": ["data-science"]},
                "profiles": [{"slug": "small"}],
                "packages": {"allowed_lock": "image.lock", "allowed": ["copyleft-lib>=2"]},
                "promotion": {
                    "projects": [
                        {
                            "path": PROJECT,
                            "image": tag,
                            "notebooks": ["notebooks/train.py"],
                            "lanes": [{"from": "main", "to": "staging", "schedule": "0 2 * * *"}],
                        }
                    ]
                },
            }
        )
    )
    try:
        yield tag, admin
    finally:
        client.images.remove(image.id, force=True)


def packages_check(*args):
    return subprocess.run(
        [sys.executable, "-m", "jupyterhub_ds", "packages", "check", *args], capture_output=True, text=True, timeout=300
    )


def test_packages_check_lists_the_image_and_refuses_what_is_outside_the_policy(governed_image, docker_client):
    tag, admin = governed_image
    proc = packages_check(tag, "--config", str(admin))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr
    assert f"refused: {UNLISTED}" in proc.stdout.splitlines()
    assert f"refused: {COPYLEFT}" in proc.stdout.splitlines()
    assert len([line for line in proc.stdout.splitlines() if line.startswith("refused: ")]) == 2
    listed = {
        line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()[2:] if not line.startswith("refused")
    }
    assert listed["copyleft-lib"] == "2.0" and listed["jupyterhub-ds"] and "numpy" not in listed
    assert "holds 2 thing(s) outside the package policy" in proc.stderr
    # the image it was made from is within the same policy; no container is left behind
    assert packages_check(BASE, "--config", str(admin)).returncode == 0
    assert docker_client.containers.list(all=True, filters={"label": "org.jupyterhub-ds.packages-check"}) == []


@pytest.fixture
def gitlab_seed():
    return promo_seed()


def test_a_promotion_clean_run_on_that_image_refuses_it_with_the_same_messages(governed_image, gitlab_server, tmp_path):
    tag, admin = governed_image
    lanes = create_lanes(gitlab_server)
    merge_change(gitlab_server, {"notebooks/train.py": "# %%\nprint('v2')\n"}, "Train v2")
    staging = lanes.branches.get("staging").commit["id"]
    # the policy as the hub hands it to the service (the admin YAML through load_config)
    c = load_config(
        admin,
        {"GITLAB_CLIENT_SECRET": "s", "JUPYTERHUB_CRYPT_KEY": "00" * 32, "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN": "t"},
    )
    [project] = json.loads(c.JupyterHub.services[0]["environment"]["JUPYTERHUB_DS_PROMOTION_CONFIG"])["projects"]
    config = settings(
        gitlab_server, notebooks=["notebooks/train.py"], image=tag, package_policy=project["package_policy"]
    )

    proc = run_once(gitlab_server, config, tmp_path, "--run-now", f"{PROJECT}:main")
    assert proc.returncode == 1, proc.stderr[-3000:]
    [run] = proc.runs
    assert [n["status"] for n in run["notebooks"]] == ["ok"]  # it ran fine: the image is what is refused
    assert run["packages"]["problems"] == [UNLISTED, COPYLEFT]
    assert run["error"] == f"packages: {UNLISTED}; {COPYLEFT}"
    assert lanes.branches.get("staging").commit["id"] == staging
    assert Path(admin).exists()
