"""Notebook paths are confined to the server root and to their git working copy."""

import os

import pytest

from jupyterhub_ds.review.errors import ReviewError
from jupyterhub_ds.review.paths import check_api_path, locate_notebook

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "path, fragment",
    [
        (None, '"path" is missing'),
        ("", '"path" is missing'),
        ("../x.ipynb", "paths with '..' are refused"),
        ("a/../../x.ipynb", "paths with '..' are refused"),
        ("/etc/x.ipynb", "absolute paths are refused"),
        ("C:/x.ipynb", "absolute paths are refused"),
        ("a\\..\\x.ipynb", "is not a valid notebook path"),
        ("a/x.py", "is not a notebook (.ipynb)"),
        ("a/x\x00.ipynb", "is not a valid notebook path"),
        ("projects/ns/p/.git/x.ipynb", "is inside git's own folder (.git)"),
    ],
)
def test_check_api_path_refuses(path, fragment):
    with pytest.raises(ReviewError) as e:
        check_api_path(path)
    assert e.value.status == 400 and fragment in e.value.message


def test_check_api_path_normalises():
    assert check_api_path("./projects//ns/p/./a.ipynb") == "projects/ns/p/a.ipynb"


@pytest.fixture
def home(tmp_path):
    root = tmp_path / "home"
    wc = root / "projects" / "ns" / "p"
    (wc / ".git").mkdir(parents=True)
    (wc / "nb").mkdir()
    (wc / "nb" / "a.ipynb").write_text("{}")
    (root / "loose.ipynb").write_text("{}")
    (tmp_path / "secret.ipynb").write_text("{}")
    return root


def test_locate_finds_the_working_copy(home):
    loc = locate_notebook(home, "projects/ns/p/nb/a.ipynb")
    assert loc.repo_path == "nb/a.ipynb" and loc.script_repo_path == "nb/a.py" and loc.repo_api_root == "projects/ns/p"
    assert loc.repo_root == (home / "projects/ns/p").resolve()


@pytest.mark.parametrize(
    "make, path, fragment",
    [
        (lambda h: None, "loose.ipynb", "is not inside a git working copy"),
        (
            lambda h: os.symlink(h.parent / "secret.ipynb", h / "projects/ns/p/link.ipynb"),
            "projects/ns/p/link.ipynb",
            "points outside your home folder",
        ),
        (
            lambda h: os.symlink(h / "loose.ipynb", h / "projects/ns/p/link.ipynb"),
            "projects/ns/p/link.ipynb",
            "is a symlink to a file outside its git working copy",
        ),
        (
            lambda h: os.symlink(h.parent, h / "projects/ns/p/up"),
            "projects/ns/p/up/secret.ipynb",
            "points outside your home folder",
        ),
        (
            lambda h: (h / "projects/ns/p/nb/a.py").symlink_to(h / "loose.ipynb"),
            "projects/ns/p/nb/a.ipynb",
            "(the paired script of a.ipynb) is a symlink out of the working copy",
        ),
        (lambda h: None, "projects/ns/p/nb/none.ipynb", "does not exist; save the notebook first"),
    ],
)
def test_locate_refuses_escapes(home, make, path, fragment):
    make(home)
    with pytest.raises(ReviewError) as e:
        locate_notebook(home, path)
    assert fragment in e.value.message
