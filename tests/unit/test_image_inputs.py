"""The pure parts of `jupyterhub-ds images build`: what decides "cached", what goes in."""

import pytest

from jupyterhub_ds.image_inputs import (
    allowed_download_hosts,
    format_report,
    input_hash,
    lock_conflicts,
    lock_packages,
    lock_pins,
    lock_text,
    packages_label,
    requirements_from_metadata,
    source_files,
    split_pem,
    tree_content_hash,
)
from jupyterhub_ds.sizes import format_size

pytestmark = pytest.mark.unit

METADATA = """\
Metadata-Version: 2.1
Name: jupyterhub-ds
Version: 0.1.0
Requires-Dist: traitlets>=5.4
Requires-Dist: PyYAML>=6
Provides-Extra: hub
Requires-Dist: dockerspawner<15,>=14; extra == "hub"
Provides-Extra: singleuser
Requires-Dist: jupyterlab<5,>=4; extra == "singleuser"
Requires-Dist: nbdime<5,>=4; extra == "singleuser"
Requires-Dist: python-gitlab<9,>=4; extra == "hub"
Requires-Dist: python-gitlab<9,>=4; extra == "singleuser"
Provides-Extra: test
Requires-Dist: pytest>=8; extra == "test"

A description that mentions Requires-Dist: nothing.
"""


def test_requirements_are_base_plus_singleuser_extra_without_markers():
    assert requirements_from_metadata(METADATA) == [
        "jupyterlab<5,>=4",
        "nbdime<5,>=4",
        "python-gitlab<9,>=4",
        "PyYAML>=6",
        "traitlets>=5.4",
    ]


@pytest.mark.parametrize(
    "index, hosts",
    [
        ("https://pypi.org/simple", {"pypi.org", "files.pythonhosted.org"}),
        ("https://nexus.corp.example/repository/pypi/simple", {"nexus.corp.example"}),
        ("http://127.0.0.1:3141/root/pypi/+simple", {"127.0.0.1"}),
    ],
)
def test_download_hosts_of_an_index(index, hosts):
    assert allowed_download_hosts(index) == hosts


def test_input_hash_is_stable_and_sees_every_part():
    parts = {"base": "sha256:1", "ca": b"", "index": "https://pypi.org/simple"}
    assert input_hash(parts) == input_hash(dict(reversed(list(parts.items()))))
    for name in parts:
        changed = dict(parts, **{name: parts[name] + ("x" if isinstance(parts[name], str) else b"x")})
        assert input_hash(changed) != input_hash(parts), name
    # Moving a byte from one part to the next is a different input.
    assert input_hash({"a": "xy", "b": ""}) != input_hash({"a": "x", "b": "y"})


def _tree(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_source_hash_sees_package_files_but_not_tests_builds_or_images(tmp_path):
    files = {
        "setup.cfg": b"[metadata]\n",
        "README.md": b"hi\n",
        "jupyterhub_ds/cli.py": b"x = 1\n",
        "extensions/review/handlers.py": b"y = 2\n",
    }
    noise = {
        "tests/unit/test_x.py": b"",
        ".git/HEAD": b"ref",
        "build/lib/old.py": b"",
        "images/README.md": b"",
        "jupyterhub_ds/__pycache__/cli.cpython-311.pyc": b"",
        "x.egg-info/PKG-INFO": b"",
        ".work/images/rootfs/bin/sh": b"",
        "extensions/labext/node_modules/a.js": b"",
    }
    a = _tree(tmp_path / "a", files)
    b = _tree(tmp_path / "b", {**files, **noise})
    assert source_files(b) == sorted(
        ["README.md", "extensions/review/handlers.py", "jupyterhub_ds/cli.py", "setup.cfg"]
    )
    assert tree_content_hash(a) == tree_content_hash(b)
    (b / "jupyterhub_ds" / "cli.py").write_bytes(b"x = 2\n")
    assert tree_content_hash(a) != tree_content_hash(b)
    (b / "jupyterhub_ds" / "cli.py").write_bytes(b"x = 1\n")
    (b / "jupyterhub_ds" / "new.py").write_bytes(b"")
    assert tree_content_hash(a) != tree_content_hash(b)


CERT_A = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
CERT_B = b"-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----"


@pytest.mark.parametrize(
    "bundle, certs",
    [
        (b"", []),
        (b"# Corp proxy CA\n" + CERT_A + b"\n\n# Other\n" + CERT_B + b"\n", [CERT_A + b"\n", CERT_B + b"\n"]),
        (CERT_A + CERT_B, [CERT_A + b"\n", CERT_B + b"\n"]),
        (b"not a certificate", []),
        (CERT_A + b"\n-----BEGIN CERTIFICATE-----\ntruncated", [CERT_A + b"\n"]),
    ],
)
def test_split_pem_bundle(bundle, certs):
    assert split_pem(bundle) == certs


def test_packages_label_is_sorted_compact_freeze():
    freeze = "nbdime==4.0.4\n# comment\n\nJupyterLab==4.6.6\naiohttp==3.14.5\n"
    assert packages_label(freeze) == "aiohttp==3.14.5,JupyterLab==4.6.6,nbdime==4.0.4"


def test_report_line_names_each_step_and_total():
    steps = [("base", "cached", 0.04), ("wheel", "built", 2.61), ("singleuser", "cached", 0.2)]
    assert format_report(steps, 2.93) == (
        "images build: base cached (0.0 s), wheel built (2.6 s), singleuser cached (0.2 s), total 2.9 s"
    )


def test_lock_pins_third_party_packages_only():
    listed = "pip==23.0.1\nJupyterLab==4.6.6\njupyterhub_ds==0.1.0\nsetuptools==66.1.1\naiohttp==3.14.5\n"
    text = lock_text(listed, "0.1.0")
    assert [ln for ln in text.splitlines() if not ln.startswith("#")] == ["aiohttp==3.14.5", "JupyterLab==4.6.6"]
    assert "--update-lock" in text


LOCK = """\
# Exact versions of the data-science image's third-party packages.
numpy==2.3.5
Pandas==2.3.3

scikit_learn==1.7.2  # imported as sklearn
zope.interface==8.0
requests[socks]==2.32.5
tomli==2.3.0 ; python_version < "3.11"
"""


def test_lock_packages_are_normalised_distribution_names(tmp_path):
    path = tmp_path / "requirements.lock"
    path.write_text(LOCK)
    assert lock_packages(path) == ["numpy", "pandas", "requests", "scikit-learn", "tomli", "zope-interface"]
    assert lock_pins(LOCK)["scikit-learn"] == "1.7.2"
    assert lock_pins(LOCK)["tomli"] == "2.3.0"
    empty = tmp_path / "empty.lock"
    empty.write_text("# nothing pinned yet\n")
    assert lock_packages(empty) == []


@pytest.mark.parametrize(
    "line",
    [
        "numpy>=2",
        "numpy",
        "--extra-index-url https://elsewhere.example/simple",
        "-e .",
        "foo @ https://elsewhere.example/foo-1.0.tar.gz",
        "numpy==2.3.5 --hash",
    ],
)
def test_lock_packages_refuses_what_is_not_a_pin(tmp_path, line):
    path = tmp_path / "requirements.lock"
    path.write_text(f"# header\npandas==2.3.3\n{line}\n")
    with pytest.raises(ValueError, match=r"requirements\.lock, line 3: .* is not an exact pin"):
        lock_packages(path)


def test_lock_pins_refuses_one_package_pinned_twice():
    with pytest.raises(ValueError, match="line 2: scikit-learn is pinned twice"):
        lock_pins("scikit-learn==1.7.2\nScikit_Learn==1.6.0\n", where="x.lock")


def test_lock_conflicts_names_what_a_layer_would_change():
    base = {"numpy": "2.3.5", "requests": "2.32.5", "jupyterlab": "4.6.6"}
    layer = {"numpy": "2.3.5", "requests": "2.31.0", "pandas": "2.3.3"}
    assert lock_conflicts(layer, base) == {"requests": ("2.31.0", "2.32.5")}
    assert lock_conflicts(base, base) == {}


@pytest.mark.parametrize(
    "size, text",
    [(1_213_456_789, "1.21 GB"), (624_000_000, "624 MB"), (999_499, "999 kB"), (12, "12 B")],
)
def test_image_size_is_shown_as_docker_counts_it(size, text):
    assert format_size(size, decimal=True) == text


def test_report_line_shows_a_step_detail():
    steps = [("singleuser", "cached", 0.11), ("singleuser-scipy", "built", 95.3, "1.21 GB")]
    assert format_report(steps, 96.0) == (
        "images build: singleuser cached (0.1 s), singleuser-scipy built (95.3 s, 1.21 GB), total 96.0 s"
    )
