"""The data-science image ``jupyterhub-ds/singleuser-scipy``, checked with the real engine.

The session's ``images build`` (fixture ``singleuser_build``) makes it after the single-user
image; each test looks at it as a data scientist or an auditor would: imports, a plot, the
labels, what pip installed and from where, and that an unchanged tree rebuilds in seconds.
"""

import base64
import json
import re
import struct
from urllib.parse import urlsplit

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from jupyterhub_ds._version import __version__
from jupyterhub_ds.image_inputs import (
    LABEL_BASE,
    LABEL_INDEX,
    LABEL_PACKAGES,
    LABEL_VERSION,
    SCIPY_REPO,
    SINGLEUSER_REPO,
    allowed_download_hosts,
    lock_packages,
    lock_pins,
)
from jupyterhub_ds.images import source_tree
from tests.fixtures.docker import run_images_build

pytestmark = pytest.mark.integration

RECIPE = source_tree() / "images" / "scipy"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _top_level():
    """The distributions images/scipy/requirements.txt asks for (canonical names)."""
    lines = (ln.strip() for ln in (RECIPE / "requirements.txt").read_text().splitlines())
    return [canonicalize_name(Requirement(ln).name) for ln in lines if ln and not ln.startswith("#")]


def _labels(docker_client, ref):
    return docker_client.api.inspect_image(ref)["Config"]["Labels"] or {}


def _label_pins(docker_client, ref):
    return lock_pins(_labels(docker_client, ref)[LABEL_PACKAGES].replace(",", "\n"))


def test_the_scientific_stack_imports(scipy_image, run_in_image):
    proc = run_in_image(
        scipy_image, "python", "-c", "import pandas, sklearn, scipy, matplotlib, seaborn, statsmodels, pyarrow"
    )
    assert proc.returncode == 0, proc.stderr


# Runs in the image: import every top-level module of each named distribution (as the
# installed metadata says, so scikit-learn is sklearn and Bottleneck is bottleneck).
IMPORT_ALL = r"""
import importlib, importlib.metadata as md, json, re, sys
by_dist = {}
for module, dists in md.packages_distributions().items():
    for dist in dists:  # PEP 503 names, with the standard library only (this runs in the image)
        by_dist.setdefault(re.sub(r"[-_.]+", "-", dist).lower(), set()).add(module)
done = {}
for name in sys.argv[1:]:
    modules = sorted(m for m in by_dist.get(name, ()) if m.isidentifier() and not m.startswith("_"))
    for module in modules:
        importlib.import_module(module)
    done[name] = modules
print(json.dumps(done))
"""


def test_every_package_of_the_top_level_list_imports(scipy_image, run_in_image):
    wanted = _top_level()
    assert {
        "numpy",
        "pandas",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "seaborn",
        "statsmodels",
        "pyarrow",
        "ipywidgets",
        "papermill",
        "openpyxl",
        "sqlalchemy",
        "tqdm",
        "requests",
    } <= set(wanted)
    proc = run_in_image(scipy_image, "env", "MPLBACKEND=Agg", "python", "-c", IMPORT_ALL, *wanted)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = json.loads(proc.stdout)
    assert [name for name in wanted if not imported[name]] == [], imported
    assert "sklearn" in imported["scikit-learn"] and "bottleneck" in imported["bottleneck"]


def test_runs_as_uid_1000_like_the_single_user_image(docker_client, scipy_image, run_in_image):
    proc = run_in_image(scipy_image, "sh", "-c", 'id -u; id -g; echo "$HOME"; pwd')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1000", "100", "/home/jovyan", "/home/jovyan"]
    config = docker_client.api.inspect_image(scipy_image)["Config"]
    assert config["User"] == "1000:100"
    assert config["Entrypoint"] == ["tini", "-g", "--"] and config["Cmd"] == ["jupyterhub-ds-singleuser"]


PLOT = r"""
import base64, io, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
fig, ax = plt.subplots(figsize=(4, 3), dpi=50)
x = np.linspace(0, 2 * np.pi, 100)
ax.plot(x, np.sin(x))
buf = io.BytesIO()
fig.savefig(buf, format="png")
print(matplotlib.get_backend(), base64.b64encode(buf.getvalue()).decode())
"""


def test_a_container_renders_a_matplotlib_png(scipy_image, run_in_image):
    proc = run_in_image(scipy_image, "python", "-c", PLOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    backend, data = proc.stdout.split()
    png = base64.b64decode(data)
    assert backend.lower() == "agg"
    assert len(png) > 0 and png[:8] == PNG_MAGIC
    # The first chunk is IHDR with the size asked for: 4 x 3 inches at 50 dpi.
    length, kind, width, height = struct.unpack(">I4sII", png[8:24])
    assert (kind, width, height) == (b"IHDR", 200, 150)
    assert png[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_labels_list_the_packages_as_installed_and_locked(docker_client, scipy_image, run_in_image):
    labels = _labels(docker_client, scipy_image)
    assert labels[LABEL_VERSION] == __version__
    assert labels[LABEL_BASE] == f"{SINGLEUSER_REPO}:{__version__}"
    labelled = _label_pins(docker_client, scipy_image)
    # The label is what is really installed ...
    listed = run_in_image(scipy_image, "pip", "list", "--format=freeze").stdout
    assert labelled == lock_pins(listed)
    # ... which is the lock, and the lock names every top-level package.
    locked = lock_pins((RECIPE / "requirements.lock").read_text())
    assert {n: labelled.get(n) for n in locked if labelled.get(n) != locked[n]} == {}
    assert set(_top_level()) <= set(locked)
    assert labelled["jupyterhub-ds"] == __version__
    latest = docker_client.api.inspect_image(f"{SCIPY_REPO}:latest")["Id"]
    assert latest == docker_client.api.inspect_image(scipy_image)["Id"]


def test_the_single_user_packages_are_unchanged(docker_client, singleuser_image, scipy_image):
    base = _label_pins(docker_client, singleuser_image)
    scipy = _label_pins(docker_client, scipy_image)
    assert {n: (v, scipy.get(n)) for n, v in base.items() if scipy.get(n) != v} == {}
    added = set(scipy) - set(base)
    assert {"numpy", "pandas", "scipy", "scikit-learn", "pyarrow"} <= added
    # And the committed locks agree: the data-science one extends the single-user one.
    single = lock_pins((source_tree() / "images" / "singleuser" / "requirements.lock").read_text())
    assert lock_packages(RECIPE / "requirements.lock") == sorted(set(single) | added - {"jupyterhub-ds"})


def test_packages_come_only_from_the_single_user_images_index(
    docker_client, singleuser_image, scipy_image, run_in_image
):
    index = _labels(docker_client, singleuser_image)[LABEL_INDEX]
    assert _labels(docker_client, scipy_image)[LABEL_INDEX] == index
    conf = run_in_image(scipy_image, "pip", "config", "list").stdout
    assert sorted(conf.split()) == ["global.cert='/etc/ssl/certs/ca-certificates.crt'", f"global.index-url='{index}'"]
    env = docker_client.api.inspect_image(scipy_image)["Config"]["Env"]
    assert [e for e in env if e.startswith("PIP_")] == []

    report = json.loads(run_in_image(scipy_image, "cat", "/opt/jupyterhub-ds/pip-report.json").stdout)
    installed = {canonicalize_name(i["metadata"]["name"]): i["download_info"]["url"] for i in report["install"]}
    installed.pop("jupyterhub-ds")  # this project's wheel, from the build context
    hosts = allowed_download_hosts(index)
    assert {n: u for n, u in installed.items() if urlsplit(u).hostname not in hosts} == {}
    # The report covers the whole venv: the single-user packages and this layer's.
    in_venv = set(_label_pins(docker_client, scipy_image))
    assert in_venv - set(installed) <= {"jupyterhub-ds", "pip", "setuptools"}


def _report_line(proc):
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("images build:")]
    assert len(lines) == 1, proc.stdout[-3000:] + proc.stderr
    return lines[0]


def test_rebuild_without_change_is_cached_in_seconds(scipy_image, frozen_source):
    first = run_images_build("--source", str(frozen_source))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    proc = run_images_build("--source", str(frozen_source))
    assert proc.returncode == 0, proc.stderr
    line = _report_line(proc)
    print(line)
    found = re.search(r"singleuser-scipy cached \((\d+\.\d) s, ([\d.]+) GB\)", line)
    assert found, line
    assert float(found[1]) < 30, line  # a few seconds at most, even on a busy machine
    assert 0.5 < float(found[2]) < 5, line
    assert f"{SCIPY_REPO}:{__version__}, {SCIPY_REPO}:latest" in proc.stdout


def test_no_scipy_builds_only_base_and_single_user(scipy_image, frozen_source):
    proc = run_images_build("--no-scipy", "--source", str(frozen_source))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    line = _report_line(proc)
    assert re.fullmatch(r"images build: base cached .*, singleuser cached \([^)]*\), total \d+\.\d s", line), line
    assert SCIPY_REPO not in proc.stdout


def test_a_lock_that_would_change_a_single_user_package_is_refused(docker_client, scipy_image, frozen_source):
    lock = frozen_source / "images" / "scipy" / "requirements.lock"
    text = lock.read_text()
    jupyterlab = lock_pins(text)["jupyterlab"]
    lock.write_text(re.sub(r"(?im)^jupyterlab==.*$", "jupyterlab==4.0.0", text))
    before = docker_client.api.inspect_image(scipy_image)["Id"]

    proc = run_images_build("--source", str(frozen_source), timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:]
    error = proc.stderr.strip()
    assert error.startswith(
        f"images build: error: {lock} pins jupyterlab==4.0.0 (the single-user image has {jupyterlab})"
    ), error
    assert "--update-lock=scipy" in error
    assert "[singleuser-scipy]" not in proc.stdout  # refused before building anything
    assert docker_client.api.inspect_image(scipy_image)["Id"] == before
