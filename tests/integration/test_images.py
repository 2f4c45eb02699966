"""The images `jupyterhub-ds images build` makes, checked with the real Docker engine.

The session fixture ``singleuser_build`` runs the build once (incremental); each test
then looks at the image the way an admin or an auditor would: ``docker run``,
``docker image inspect`` and the files the build recorded inside the image.
"""

import configparser
import json
import os
import re
import secrets
import shutil
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests
from packaging.utils import canonicalize_name

from jupyterhub_ds._version import __version__
from jupyterhub_ds.image_inputs import (
    BASE_REPO,
    DEFAULT_SUITE,
    LABEL_HASH,
    LABEL_INDEX,
    LABEL_PACKAGES,
    LABEL_VERSION,
    allowed_download_hosts,
)
from tests.fixtures.docker import run_images_build

pytestmark = pytest.mark.integration

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BASE_IMAGE = f"{BASE_REPO}:{DEFAULT_SUITE}"
# What the venv got from Python's ensurepip (the Debian python3-venv package), not from pip.
ENSUREPIP = {"pip", "setuptools"}


def _inspect(docker_client, ref):
    return docker_client.api.inspect_image(ref)


def _labels(docker_client, ref):
    return _inspect(docker_client, ref)["Config"]["Labels"] or {}


def test_user_is_uid_1000_with_home(singleuser_image, run_in_image):
    proc = run_in_image(singleuser_image, "id", "-u")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1000"

    proc = run_in_image(singleuser_image, "sh", "-c", 'id -un; id -g; echo "$HOME"; pwd')
    assert proc.stdout.split() == ["jovyan", "100", "/home/jovyan", "/home/jovyan"]


def test_no_docker_socket_and_no_docker_client(singleuser_image, run_in_image):
    proc = run_in_image(
        singleuser_image,
        "sh",
        "-c",
        "for p in /var/run/docker.sock /run/docker.sock; do [ -e $p ] && echo socket:$p; done;"
        " command -v docker dockerd containerd && echo binary; "
        " python -c 'import docker' 2>/dev/null && echo docker-py; echo checked",
    )
    assert proc.stdout.split() == ["checked"], proc.stdout


def test_pip_config_names_only_the_configured_index(docker_client, singleuser_image, run_in_image):
    index = _labels(docker_client, singleuser_image)[LABEL_INDEX]
    proc = run_in_image(singleuser_image, "cat", "/etc/pip.conf")
    conf = configparser.ConfigParser()
    conf.read_string(proc.stdout)
    assert dict(conf["global"]) == {"index-url": index, "cert": "/etc/ssl/certs/ca-certificates.crt"}
    assert conf.sections() == ["global"]

    # What pip itself sees (files and environment) for a notebook user in the container.
    proc = run_in_image(singleuser_image, "pip", "config", "list")
    assert sorted(proc.stdout.split()) == [
        "global.cert='/etc/ssl/certs/ca-certificates.crt'",
        f"global.index-url='{index}'",
    ]
    env = _inspect(docker_client, singleuser_image)["Config"]["Env"]
    assert [e for e in env if e.startswith("PIP_")] == []


def test_every_package_came_from_the_index(docker_client, singleuser_image, run_in_image):
    index = _labels(docker_client, singleuser_image)[LABEL_INDEX]
    hosts = allowed_download_hosts(index)
    report = json.loads(run_in_image(singleuser_image, "cat", "/opt/jupyterhub-ds/pip-report.json").stdout)
    installed = {canonicalize_name(i["metadata"]["name"]): i["download_info"]["url"] for i in report["install"]}

    own = installed.pop("jupyterhub-ds")
    assert own.startswith("file:///") and own.endswith(f"jupyterhub_ds-{__version__}-py3-none-any.whl")
    outside = {name: url for name, url in installed.items() if urlsplit(url).hostname not in hosts}
    assert outside == {}, f"packages not from {index}"
    for wanted in ("jupyterhub", "jupyterlab", "jupytext", "nbdime", "gitpython", "python-gitlab"):
        assert wanted in installed

    # Nothing in the venv came from anywhere else: all of it is in the report except what
    # `python -m venv` put there itself.
    listed = run_in_image(singleuser_image, "pip", "list", "--format=json").stdout
    in_venv = {canonicalize_name(p["name"]) for p in json.loads(listed)}
    assert in_venv - set(installed) - {"jupyterhub-ds"} <= ENSUREPIP


def test_singleuser_server_and_review_extension(singleuser_image, run_in_image):
    proc = run_in_image(singleuser_image, "jupyterhub-singleuser", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--generate-config" in proc.stdout

    proc = run_in_image(singleuser_image, "jupyter", "server", "extension", "list")
    assert proc.returncode == 0, proc.stderr
    text = ANSI.sub("", proc.stdout + proc.stderr)
    assert re.search(r"^\s*jupyterhub_ds\.review enabled$", text, re.M), text
    assert re.search(rf"^\s*jupyterhub_ds\.review {re.escape(__version__)} OK$", text, re.M), text


@pytest.fixture
def server_container(docker_client, singleuser_image):
    """A Jupyter server started from the image with a known token; yields (base URL, token)."""
    token = secrets.token_hex(16)
    container = docker_client.containers.run(
        singleuser_image,
        ["jupyter", "server", "--ip=0.0.0.0", "--port=8888", "--no-browser", f"--IdentityProvider.token={token}"],
        detach=True,
        ports={"8888/tcp": ("127.0.0.1", None)},
        labels={"org.jupyterhub-ds.test": "images"},
    )
    try:
        container.reload()
        port = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
        yield f"http://127.0.0.1:{port}", token, container
    finally:
        container.remove(force=True)


def test_server_in_the_image_serves_the_review_extension(server_container):
    url, token, container = server_container
    deadline = time.monotonic() + 90
    answer = None
    for _ in range(300):  # bounded: ~90 s at most
        try:
            answer = requests.get(f"{url}/jupyterhub-ds/info", headers={"Authorization": f"token {token}"}, timeout=5)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                break
            container.reload()
            assert container.status in ("created", "running"), container.logs().decode()[-3000:]
            time.sleep(0.3)
    assert answer is not None, "the server in the image did not answer in 90 s:\n" + container.logs().decode()[-3000:]
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "jupyterhub-ds", "version": __version__}
    # Without the token: refused, not served.
    assert requests.get(f"{url}/jupyterhub-ds/info", timeout=5).status_code == 403


def test_labels_carry_version_and_package_list(docker_client, singleuser_image, run_in_image):
    labels = _labels(docker_client, singleuser_image)
    assert labels[LABEL_VERSION] == __version__
    packages = dict(p.split("==") for p in labels[LABEL_PACKAGES].split(","))
    packages = {canonicalize_name(k): v for k, v in packages.items()}
    assert packages["jupyterhub-ds"] == __version__
    assert packages["jupyterlab"].startswith("4.")
    assert packages["nbdime"].startswith("4.")
    for name in ("jupyterhub", "jupytext", "gitpython", "python-gitlab"):
        assert name in packages
    # The label is what is really installed.
    version = run_in_image(singleuser_image, "jupyterhub-singleuser", "--version").stdout.strip()
    assert packages["jupyterhub"] == version
    latest = _inspect(docker_client, "jupyterhub-ds/singleuser:latest")["Id"]
    assert latest == _inspect(docker_client, singleuser_image)["Id"]


def test_installed_versions_follow_the_lock(docker_client, singleuser_image):
    from jupyterhub_ds.images import lock_path, source_tree

    lock = lock_path(source_tree()).read_text()
    pins = {
        canonicalize_name(n): v
        for n, v in (ln.split("==") for ln in lock.splitlines() if ln and not ln.startswith("#"))
    }
    for name in ("jupyterhub", "jupyterlab", "jupytext", "nbdime", "gitpython", "python-gitlab"):
        assert name in pins
    labelled = dict(p.split("==") for p in _labels(docker_client, singleuser_image)[LABEL_PACKAGES].split(","))
    installed = {canonicalize_name(k): v for k, v in labelled.items()}
    differs = {n: (v, installed[n]) for n, v in pins.items() if n in installed and installed[n] != v}
    assert differs == {}, "installed versions differ from images/singleuser/requirements.lock"


def test_base_image_was_imported_not_pulled(docker_client, singleuser_image):
    base = _inspect(docker_client, BASE_IMAGE)
    assert base["RepoDigests"] == []  # never came from a registry
    assert len(base["Config"]["Labels"][LABEL_HASH]) == 64
    assert _labels(docker_client, singleuser_image)["org.jupyterhub-ds.base-image"] == BASE_IMAGE


def _build_twice(*args):
    """Build, then build again with no change: the second build is the one to check."""
    first = run_images_build(*args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    return run_images_build(*args)


def test_rebuild_without_change_is_cached(singleuser_build, frozen_source):
    proc = _build_twice("--source", str(frozen_source))
    assert proc.returncode == 0, proc.stderr
    report = [ln for ln in proc.stdout.splitlines() if ln.startswith("images build:")]
    assert len(report) == 1, proc.stdout
    # Shown, not asserted on time: the < 10 s goal is read off the printed figure.
    print(report[0])
    assert re.fullmatch(
        r"images build: base cached \(\d+\.\d s\), singleuser cached \(\d+\.\d s, [\d.]+ [kMG]B\), "
        r"singleuser-scipy cached \(\d+\.\d s, [\d.]+ [kMG]B\), total \d+\.\d s",
        report[0],
    ), report[0]


def test_base_image_option_skips_debootstrap(singleuser_build, frozen_source):
    proc = _build_twice("--base-image", BASE_IMAGE, "--source", str(frozen_source))
    assert proc.returncode == 0, proc.stderr
    assert "[base]" not in proc.stdout  # no debootstrap, no import
    assert re.search(r"base external \(.*singleuser cached", proc.stdout), proc.stdout


def test_no_engine_says_where_and_how_to_start_it(tmp_path, docker_client):
    sock = f"unix://{tmp_path}/no-engine.sock"
    proc = run_images_build(env=dict(os.environ, DOCKER_HOST=sock), timeout=120)
    assert proc.returncode == 1
    assert f"images build: error: no Docker engine at {sock}: start dockerd" in proc.stderr


def test_missing_debootstrap_says_how_to_install_it(docker_client):
    docker_dir = os.path.dirname(shutil.which("docker"))
    assert shutil.which("debootstrap", path=docker_dir) is None, "test needs docker outside debootstrap's dir"
    # A suite with no base image yet, on a PATH with docker but without debootstrap.
    env = dict(os.environ, PATH=os.pathsep.join([docker_dir, os.path.dirname(sys.executable)]))
    proc = run_images_build("--suite", "no-such-suite", env=env, timeout=120)
    assert proc.returncode == 1
    assert "images build: error: debootstrap not found: apt-get install debootstrap" in proc.stderr
