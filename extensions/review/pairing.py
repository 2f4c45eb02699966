"""Pairing policy for notebooks inside a git working copy, through jupytext's own config.

We write a ``jupytext.toml`` with ``formats = "ipynb,py:percent"`` at the root of each working
copy (unless the project already has a jupytext configuration): jupytext's contents manager
finds it from any notebook below and writes the paired script on every save. Both the config
file and — under the default policy — ``*.ipynb`` are listed in ``.git/info/exclude``, which is
local to the clone, so nothing about it is ever committed.
"""

from __future__ import annotations

import os
from pathlib import Path

from .lru import LRU

CONFIG_NAME = "jupytext.toml"
CONFIG_TEXT = """\
# Written by jupyterhub-ds: notebooks in this git working copy are paired with a py:percent script.
# The script is what "Submit for review" commits. This file is kept out of git (.git/info/exclude).
formats = "ipynb,py:percent"
"""
# the other names jupytext looks for (jupytext.config.JUPYTEXT_CONFIG_FILES + pyproject.toml)
OTHER_CONFIGS = (
    "jupytext",
    "jupytext.yml",
    "jupytext.yaml",
    "jupytext.json",
    "jupytext.py",
    ".jupytext",
    ".jupytext.toml",
    ".jupytext.yml",
    ".jupytext.yaml",
    ".jupytext.json",
    ".jupytext.py",
)
MARK = "# jupyterhub-ds (managed block, edit above or below)"
END = "# end jupyterhub-ds"


def exclude_lines(commit_notebooks: bool) -> list[str]:
    lines = ["/" + CONFIG_NAME]
    if not commit_notebooks:
        lines += ["*.ipynb", ".ipynb_checkpoints/"]
    return lines


def merge_exclude(text: str, lines: list[str]) -> str:
    """Pure: ``text`` with our managed block replaced by ``lines`` (other lines kept as they are)."""
    kept, inside = [], False
    for line in text.splitlines():
        if line == MARK:
            inside = True
        elif line == END and inside:
            inside = False
        elif not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    block = [MARK, *lines, END]
    return "\n".join(kept + ([""] if kept else []) + block) + "\n"


def has_project_config(repo_root: Path) -> bool:
    if any((repo_root / name).exists() for name in OTHER_CONFIGS):
        return True
    pyproject = repo_root / "pyproject.toml"
    return pyproject.is_file() and "[tool.jupytext" in pyproject.read_text(errors="replace")


def git_dir(repo_root: Path) -> Path | None:
    dot_git = repo_root / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():  # worktrees and submodules: "gitdir: <path>"
        target = dot_git.read_text().strip().removeprefix("gitdir:").strip()
        path = (repo_root / target).resolve()
        return path if path.is_dir() else None
    return None


def ensure_pairing(repo_root: Path, commit_notebooks: bool = False) -> bool:
    """Idempotent; returns True when something was written."""
    repo_root = Path(repo_root)
    changed = False
    config = repo_root / CONFIG_NAME
    if not config.exists() and not has_project_config(repo_root):
        config.write_text(CONFIG_TEXT)
        changed = True
    gdir = git_dir(repo_root)
    if gdir is not None:
        exclude = gdir / "info" / "exclude"
        old = exclude.read_text() if exclude.exists() else ""
        new = merge_exclude(old, exclude_lines(commit_notebooks))
        if new != old:
            exclude.parent.mkdir(parents=True, exist_ok=True)
            exclude.write_text(new)
            changed = True
    return changed


def working_copies(folder: Path, depth: int = 3) -> list[Path]:
    """Git working copies under ``folder`` (``<ns>/<project>``, nested groups up to ``depth``)."""
    found, level = [], [Path(folder)]
    for _ in range(depth + 1):
        below = []
        for d in level:
            if (d / ".git").exists():
                found.append(d)
                continue  # not inside a working copy
            try:
                below += [c for c in d.iterdir() if c.is_dir() and not c.name.startswith(".") and not c.is_symlink()]
            except OSError:
                continue
        level = below[:500]  # bounded: a home folder can be big
    return found


def pair_working_copies(folder: Path, commit_notebooks: bool = False) -> list[Path]:
    """Set up pairing in every working copy under ``folder``; returns those that changed."""
    return [wc for wc in working_copies(folder) if ensure_pairing(wc, commit_notebooks)]


class PairOnSave:
    """A contents-manager post-save hook.

    - A notebook saved in a working copy that has no pairing yet (cloned by hand while the
      server runs) gets it, so the next save writes the script.
    - jupytext saves the ``.ipynb`` and then the paired script from the same notebook; the files'
      signatures right after such a save are remembered (``written_together``), so the paired gate
      need not re-derive the script while neither file changed since.
    """

    def __init__(self, root_dir, commit_notebooks: bool = False):
        self.root = Path(os.path.realpath(root_dir))
        self.commit_notebooks = commit_notebooks
        self.done: set = set()
        self._pending = LRU(256)  # notebook path -> its signature, until the script follows
        self.written_together = LRU(1000)  # notebook path -> (notebook signature, script signature)

    def __call__(self, os_path=None, model=None, contents_manager=None, **kwargs):
        from .paths import find_repo_root

        if not os_path:
            return
        path = Path(os.path.realpath(os_path))
        if self.root not in path.parents:
            return
        if path.suffix == ".py":
            notebook = path.with_suffix(".ipynb")
            sig = self._pending.pop(str(notebook), None)
            if sig is not None and sig == signature(notebook):
                self.written_together[str(notebook)] = (sig, signature(path))
            return
        if path.suffix != ".ipynb":
            return
        self.written_together.pop(str(path), None)
        self._pending[str(path)] = signature(path)
        repo = find_repo_root(path.parent, self.root)
        if repo is not None and repo not in self.done:
            try:
                ensure_pairing(repo, self.commit_notebooks)
            except OSError:
                return  # a read-only clone: the paired gate will say what to do
            self.done.add(repo)

    def in_sync(self, notebook: Path) -> bool:
        """True when both files are exactly as one jupytext save left them."""
        known = self.written_together.get(str(notebook))
        return known is not None and known == (signature(notebook), signature(notebook.with_suffix(".py")))


def signature(path: Path):
    """Identity of a file's current content for caches: inode, size, mtime (ns); None if absent."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns
