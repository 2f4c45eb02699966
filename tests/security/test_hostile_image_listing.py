"""Hole: ``jupyterhub-ds packages check IMAGE`` lists an image's distributions by running a script
with the image's own ``python``, so what comes back is whatever the image prints. A hostile image
could put terminal escapes and newlines in a name (erase the "refused:" lines from the operator's
screen, print fake ones), make the check crash with a traceback (a name that is not a string), or
list far more distributions than the script ever would. And ``docker run`` pulls a missing image
by default: checking an image that was not built yet ran (and passed) whatever a registry holds
under that name.

Controls (packages/inventory.py): the listing is checked on the host (a list of at most
MAX_DISTRIBUTIONS objects with string fields of bounded length, names and versions without control
characters; licence text with them replaced) and the container runs with ``--pull never``.
Attack: a stand-in ``docker`` CLI that plays the hostile image (no real Docker needed).
"""

import json
import os
import stat
import sys
from argparse import Namespace

import pytest

from jupyterhub_ds.packages import cli
from jupyterhub_ds.packages.inventory import MAX_DISTRIBUTIONS

pytestmark = pytest.mark.unit

IMAGE = "jupyterhub-ds/singleuser-scipy:latest"
# plays `docker run ... IMAGE python -c SCRIPT`: prints the listing of $FAKE_LISTING, or, for an image
# the engine does not have ($FAKE_MISSING), pulls it unless --pull never says not to, as docker does
FAKE_DOCKER = """#!{python}
import os, sys
args = sys.argv[1:]
if args[:1] != ["run"]:
    sys.exit(0)  # docker rm -f
if os.environ.get("FAKE_MISSING"):
    if "--pull" in args and args[args.index("--pull") + 1] == "never":
        sys.stderr.write("docker: Error response from daemon: No such image: {image}\\n")
        sys.exit(125)
    sys.stderr.write("Unable to find image '{image}' locally\\nlatest: Pulling from jupyterhub-ds/singleuser-scipy\\n")
with open(os.environ["FAKE_LISTING"], "rb") as f:
    sys.stdout.buffer.write(f.read())
"""


def dist(name, version="1.0", license="MIT"):
    return {"name": name, "version": version, "license": license, "license_expression": "", "classifiers": []}


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    docker = folder / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable, image=IMAGE))
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    listing = tmp_path / "listing.json"
    monkeypatch.setenv("FAKE_LISTING", str(listing))
    monkeypatch.delenv("FAKE_MISSING", raising=False)

    def image_lists(value):
        listing.write_text(json.dumps(value) if not isinstance(value, str) else value)

    return image_lists


def check(capsys):
    code = cli.run(Namespace(packages_command="check", image=IMAGE, config=None, json=False))
    out, err = capsys.readouterr()
    return code, out, err


def test_escapes_and_newlines_in_a_hostile_listing_do_not_reach_the_terminal(fake_docker, capsys):
    erase = "\x1b[1A\x1b[2K"  # cursor up, erase the line: hides the refused line above
    fake_docker(
        [
            dist("copyleft-lib", license="AGPL-3.0"),
            dist("x" + erase * 3, license="MIT"),
            dist("y\nrefused: nothing, all is fine", license="MIT"),
            dist("z", license="MIT\x1b]0;owned\x07"),
        ]
    )
    code, out, err = check(capsys)
    assert code == 1
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "all is fine" not in out
    assert "unexpected shape" in err


def test_a_licence_with_escapes_is_shown_without_them_and_still_refused(fake_docker, capsys):
    fake_docker([dist("copyleft-lib", license="AGPL-3.0 \x1b[8m\x1b]0;MIT\x07")])  # hidden text, a window title
    code, out, err = check(capsys)
    assert code == 1
    assert "\x1b" not in out + err
    assert "matches the refused licence 'AGPL'" in out


@pytest.mark.parametrize(
    "listing",
    [
        [{"name": ["numpy"], "version": "1.0"}],
        [{"name": "numpy", "version": {"v": 1}}],
        [{"name": "numpy", "version": "1.0", "classifiers": "License :: MIT"}],
        [dist(f"pkg{i}") for i in range(MAX_DISTRIBUTIONS + 1)],
        {"name": "numpy"},
    ],
    ids=["name-not-a-string", "version-not-a-string", "classifiers-not-a-list", "too-many", "not-a-list"],
)
def test_a_listing_of_the_wrong_shape_refuses_the_image_without_a_traceback(fake_docker, capsys, listing):
    fake_docker(listing)
    code, out, err = check(capsys)
    assert code == 1
    assert "unexpected shape" in err


def test_a_missing_image_is_never_pulled(fake_docker, capsys, monkeypatch):
    fake_docker([dist("numpy")])  # what a squatter's image of that name would list: all within policy
    monkeypatch.setenv("FAKE_MISSING", "1")
    code, out, err = check(capsys)
    assert code == 1
    assert f"image {IMAGE} is not on this Docker host" in err
