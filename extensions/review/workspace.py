"""Workspace: clone the user's assigned GitLab projects at server start, fetch the ones present.

``~/<workspace_dir>/<namespace>/<project>`` is cloned when absent (into a temporary folder, then
renamed, so a failed clone leaves nothing behind) and only fetched when present: ``git fetch``
never touches the working tree, the index or local branches. Failures are kept for
``GET jupyterhub-ds/workspace`` and written to ``CLONE-PROBLEMS.txt`` in the workspace folder;
they never stop the server.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from jupyterhub_ds import git_command

from .pairing import ensure_pairing

PROBLEMS_FILE = "CLONE-PROBLEMS.txt"
SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass
class ProjectStatus:
    project: str
    ref: str
    path: str  # API path of the working copy
    state: str  # pending | cloned | fetched | failed
    message: str = ""


def plan(projects: list, directory: str) -> tuple[list[ProjectStatus], list[str]]:
    """Pure: valid entries -> statuses (pending), invalid ones -> problems."""
    statuses, problems = [], []
    for item in projects:
        project = item.get("project") if isinstance(item, dict) else None
        ref = (item.get("ref") if isinstance(item, dict) else None) or ""
        parts = project.strip("/").split("/") if isinstance(project, str) else []
        if len(parts) < 2 or not all(SEGMENT.match(p) and ".." not in p for p in parts):
            problems.append(
                f"{project!r} is not a GitLab project path like 'namespace/project'; ask an admin to fix "
                "the workspace section of the hub config"
            )
            continue
        if ref and (ref.startswith("-") or ".." in ref or not re.match(r"^[A-Za-z0-9._/-]+$", ref)):
            problems.append(f"{project}: ref {ref!r} is not a branch name; ask an admin to fix the workspace section")
            continue
        statuses.append(ProjectStatus("/".join(parts), ref, "/".join([directory.strip("/"), *parts]), "pending"))
    return statuses, problems


class Workspace:
    def __init__(
        self,
        *,
        projects,
        root_dir,
        directory,
        gitlab_url,
        token_source=None,
        credential_helper="",
        commit_notebooks=False,
        timeout=120.0,
        log=None,
    ):
        self.root = Path(root_dir)
        self.directory = directory
        self.gitlab_url = gitlab_url.rstrip("/")
        self.token_source = token_source  # blocking: called in a thread, once per run
        self.helper = credential_helper
        self.commit_notebooks = commit_notebooks
        self.timeout = timeout
        self.log = log
        self.statuses, self.problems = plan(projects, directory)
        self.done = not self.statuses
        self.started = time.time()

    def status(self) -> dict:
        return {"done": self.done, "projects": [asdict(s) for s in self.statuses], "problems": list(self.problems)}

    async def _git(self, *args, cwd=None, token=None):
        try:
            proc = await git_command.run_async(
                args, cwd=cwd, timeout=self.timeout, token=token, gitlab_url=self.gitlab_url, helper=self.helper or None
            )
        except git_command.GitTimeout:
            raise RuntimeError(f"git {args[0]} took longer than {self.timeout:g} s") from None
        if proc.returncode != 0:
            said = git_command.message(proc.stderr.decode(errors="replace"), token or "")
            raise RuntimeError(" ".join(said.splitlines())[-500:] or f"git {args[0]} failed")

    async def _one(self, st: ProjectStatus, token: str | None):
        dest = self.root / st.path
        url = f"{self.gitlab_url}/{st.project}.git"
        if dest.exists():
            if not (dest / ".git").exists():
                raise RuntimeError(
                    f"{st.path} exists and is not a git working copy; rename it to get a fresh clone "
                    "at the next server start"
                )
            await self._git("fetch", "--quiet", "--prune", "origin", cwd=dest, token=token)
            st.state, st.message = "fetched", "fetched; your local changes were not touched"
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-cloning-", dir=dest.parent))
            try:
                args = ["clone", "--quiet"] + (["--branch", st.ref] if st.ref else []) + [url, str(tmp / "repo")]
                await self._git(*args, token=token)
                os.rename(tmp / "repo", dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            st.state, st.message = "cloned", "cloned"
        ensure_pairing(dest, self.commit_notebooks)

    async def run(self):
        token = None
        if self.token_source is not None and not self.helper and self.statuses:
            try:
                token = await asyncio.get_running_loop().run_in_executor(None, self.token_source)
            except Exception as e:  # every project then says why it could not be cloned
                token_problem = f"no GitLab token from the hub ({type(e).__name__}: {e})"
                for st in self.statuses:
                    st.state, st.message = (
                        "failed",
                        f"could not set up {st.project}: {token_problem}; restart your server",
                    )
                self.done = True
                self._write_problems()
                return
        for st in self.statuses:
            try:
                await self._one(st, token)
            except Exception as e:  # never fatal to the server
                st.state = "failed"
                st.message = (
                    f"could not {'fetch' if (self.root / st.path).exists() else 'clone'} {st.project}: {e}; "
                    "check that you are a member of the project, then restart your server"
                )
                if self.log:
                    self.log.warning("Workspace: %s", st.message)
        self.done = True
        self._write_problems()

    def _write_problems(self):
        folder = self.root / self.directory
        lines = self.problems + [s.message for s in self.statuses if s.state == "failed"]
        target = folder / PROBLEMS_FILE
        try:
            if lines:
                folder.mkdir(parents=True, exist_ok=True)
                target.write_text(
                    "Some projects could not be set up when your server started:\n\n"
                    + "\n".join(f"- {line}" for line in lines)
                    + "\n"
                )
            elif target.exists():
                target.unlink()
        except OSError as e:
            if self.log:
                self.log.warning("Workspace: cannot write %s: %s", target, e)
