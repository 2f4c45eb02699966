"""Confine a contents-manager path to the server root and to the git working copy it lives in.

``../``, absolute paths, and symlinks that leave the working copy are refused: the realpath of
the notebook (and of the paired script) must stay inside the realpath of the repository, and
the repository inside the workspace folder (``~/projects``) of the server root. A working copy
elsewhere (in a shared, writable mount, say) may have been written by someone else, with git
hooks and config of theirs: it is never submitted from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import ReviewError


@dataclass(frozen=True)
class NotebookLocation:
    api_path: str  # as the contents manager names it, normalised
    path: Path  # real path on disk
    repo_root: Path  # real path of the working copy (the folder holding .git)
    repo_path: str  # notebook path inside the repository, posix
    repo_api_root: str  # the repository folder as an API path ("" = the server root)

    @property
    def script_repo_path(self) -> str:
        return str(PurePosixPath(self.repo_path).with_suffix(".py"))

    @property
    def script_path(self) -> Path:
        return self.path.with_suffix(".py")


def refuse(message: str) -> ReviewError:
    return ReviewError(400, message)


def check_api_path(api_path) -> str:
    """Pure part: reject what is not a relative notebook path without ``..``."""
    if not isinstance(api_path, str) or not api_path.strip():
        raise refuse('"path" is missing; send the notebook\'s path, e.g. projects/ns/project/eda.ipynb')
    if "\x00" in api_path or "\\" in api_path:
        raise refuse(f"{api_path!r} is not a valid notebook path; use the path shown in the file browser")
    if api_path.startswith("/") or PurePosixPath(api_path).is_absolute() or ":" in api_path.split("/", 1)[0]:
        raise refuse(
            f"{api_path}: absolute paths are refused; use the path relative to your home folder "
            "as the file browser shows it"
        )
    parts = PurePosixPath(api_path).parts
    if ".." in parts:
        raise refuse(
            f"{api_path}: paths with '..' are refused; open the notebook from the file browser and submit it from there"
        )
    if any(p.lower() == ".git" for p in parts):
        raise refuse(f"{api_path} is inside git's own folder (.git); notebooks there cannot be submitted")
    if not api_path.endswith(".ipynb"):
        raise refuse(f"{api_path} is not a notebook (.ipynb); open a notebook and submit it")
    return "/".join(p for p in parts if p not in (".", ""))


def find_repo_root(start: Path, stop: Path) -> Path | None:
    """The nearest folder from ``start`` up to ``stop`` (inclusive) that holds ``.git``."""
    current = start
    while True:
        if (current / ".git").exists():
            return current
        if current == stop or current.parent == current:
            return None
        current = current.parent


def inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def locate_notebook(root_dir: str | os.PathLike, api_path, workspace_dir: str = "projects") -> NotebookLocation:
    """Resolve ``api_path`` under ``root_dir``; raise ReviewError(400) with a message that says why not.
    The working copy must be inside ``root_dir/workspace_dir`` (realpaths)."""
    clean = check_api_path(api_path)
    root = Path(os.path.realpath(root_dir))
    lexical = root / clean
    real = Path(os.path.realpath(lexical))
    if not inside(real, root):
        raise refuse(
            f"{clean} points outside your home folder (a symlink?); copy the notebook into a "
            "project folder and submit the copy"
        )
    if not real.is_file():
        raise refuse(f"{clean} does not exist; save the notebook first")
    # the repository is found from the path as the user sees it, then compared with realpaths
    repo_lexical = find_repo_root(lexical.parent, root)
    if repo_lexical is None:
        raise refuse(
            f"{clean} is not inside a git working copy; move it into one of your projects "
            "(~/projects/<namespace>/<project>) and submit it from there"
        )
    repo_root = Path(os.path.realpath(repo_lexical))
    if not inside(repo_root, root):
        raise refuse(
            f"{clean}: its git working copy is outside your home folder; clone the project under "
            f"~/{workspace_dir} and submit from there"
        )
    workspace = Path(os.path.realpath(root / workspace_dir.strip("/")))
    if repo_root == workspace or not inside(repo_root, workspace):
        raise refuse(
            f"{clean}: its git working copy ({repo_lexical.relative_to(root).as_posix() or '~'}) is not in your "
            f"workspace folder ~/{workspace_dir.strip('/')}; only working copies there are submitted (one "
            "elsewhere, e.g. in a shared folder, may carry someone else's git hooks). Clone the project into "
            f"~/{workspace_dir.strip('/')}/<namespace>/<project> and submit from there"
        )
    if not inside(real, repo_root):
        raise refuse(
            f"{clean} is a symlink to a file outside its git working copy; copy the notebook into "
            "the project and submit the copy"
        )
    script = real.with_suffix(".py")
    if script.is_symlink() and not inside(Path(os.path.realpath(script)), repo_root):
        raise refuse(
            f"{script.name} (the paired script of {real.name}) is a symlink out of the working copy; "
            "delete it and save the notebook again"
        )
    repo_api_root = repo_lexical.relative_to(root).as_posix() if repo_lexical != root else ""
    return NotebookLocation(clean, real, repo_root, real.relative_to(repo_root).as_posix(), repo_api_root)
