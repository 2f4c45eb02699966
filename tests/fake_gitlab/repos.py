"""Bare git repositories under the data dir; every branch, commit and tag the API shows is read
from their real refs with git (run as asyncio subprocesses, never blocking the loop)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

GIT_TIMEOUT = 60
ZERO = "0" * 40

# Installed as hooks/pre-receive. The git HTTP handler passes what the pusher may not do in the
# environment; git http-backend hands its environment to receive-pack and so to this hook.
PRE_RECEIVE = r"""#!/bin/sh
# GitLab stand-in: refuse updates the pusher is not allowed to make on protected branches.
status=0
while read -r old new ref; do
  case "$ref" in refs/heads/*) branch=${ref#refs/heads/} ;; *) continue ;; esac
  if printf '%s\n' "$GL_DENIED_BRANCHES" | grep -qxF -- "$branch"; then
    echo "GitLab: You are not allowed to push code to protected branches on this project."
    status=1; continue
  fi
  if printf '%s\n' "$GL_PROTECTED_BRANCHES" | grep -qxF -- "$branch"; then
    if [ "$new" = "0000000000000000000000000000000000000000" ]; then
      echo "GitLab: You can only delete protected branches using the web interface."
      status=1; continue
    fi
    if [ "$old" != "0000000000000000000000000000000000000000" ] && \
       ! printf '%s\n' "$GL_FORCE_PUSH_BRANCHES" | grep -qxF -- "$branch" && \
       ! git merge-base --is-ancestor "$old" "$new"; then
      echo "GitLab: You are not allowed to force push code to a protected branch on this project."
      status=1; continue
    fi
  fi
done
exit $status
"""

# Installed as hooks/post-receive: GitLab's hint after a push that creates a branch.
POST_RECEIVE = r"""#!/bin/sh
while read -r old new ref; do
  case "$ref" in refs/heads/*) branch=${ref#refs/heads/} ;; *) continue ;; esac
  if [ "$old" = "0000000000000000000000000000000000000000" ] && [ "$branch" != "$GL_DEFAULT_BRANCH" ]; then
    echo ""
    echo "To create a merge request for $branch, visit:"
    echo "  $GL_PROJECT_URL/-/merge_requests/new?merge_request%5Bsource_branch%5D=$branch"
    echo ""
  fi
done
exit 0
"""

LOG_FORMAT = "%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B%x1e"


class GitError(Exception):
    def __init__(self, args, code, stderr):
        super().__init__(f"git {' '.join(args)} exited {code}: {stderr.strip()}")
        self.code, self.stderr = code, stderr


def identity_env(name: str, email: str) -> dict:
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


async def run_git(
    git_dir: Path | None, *args: str, input: bytes | None = None, env: dict | None = None, ok_codes=(0,)
) -> tuple[int, bytes]:
    cmd = ["git"] + ([f"--git-dir={git_dir}"] if git_dir else []) + list(args)
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(input), GIT_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise GitError(args, -1, "timed out") from None
    if proc.returncode not in ok_codes:
        raise GitError(args, proc.returncode, err.decode("utf-8", "replace"))
    return proc.returncode, out


def parse_log(raw: bytes) -> list[dict]:
    commits = []
    for record in raw.decode("utf-8", "replace").split("\x1e"):
        record = record.strip("\n")
        if not record:
            continue
        sha, parents, an, ae, ad, cn, ce, cd, message = record.split("\x1f", 8)
        commits.append(
            {
                "id": sha,
                "parent_ids": parents.split(),
                "author_name": an,
                "author_email": ae,
                "authored_date": ad,
                "committer_name": cn,
                "committer_email": ce,
                "committed_date": cd,
                "message": message,
            }
        )
    return commits


class Repos:
    """One bare repository per project, ``<root>/<project id>.git``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.locks: dict[int, asyncio.Lock] = {}

    def path(self, project_id: int) -> Path:
        return self.root / f"{project_id}.git"

    def lock(self, project_id: int) -> asyncio.Lock:
        return self.locks.setdefault(project_id, asyncio.Lock())

    async def create(self, project_id: int, default_branch: str) -> None:
        path = self.path(project_id)
        await run_git(None, "init", "--bare", "-q", "-b", default_branch, str(path))
        await run_git(path, "config", "http.receivepack", "true")
        for name, text in (("pre-receive", PRE_RECEIVE), ("post-receive", POST_RECEIVE)):
            hook = path / "hooks" / name
            hook.write_text(text)
            hook.chmod(0o755)

    async def git(self, project_id: int, *args, **kwargs) -> bytes:
        return (await run_git(self.path(project_id), *args, **kwargs))[1]

    # -- reading refs ----------------------------------------------------------------------
    async def resolve(self, project_id: int, ref: str) -> str | None:
        """The commit sha ``ref`` names (branch, tag or sha), or None."""
        if not ref or ref.startswith("-"):
            return None
        for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
            code, out = await run_git(
                self.path(project_id),
                "rev-parse",
                "--verify",
                "--quiet",
                f"{candidate}^{{commit}}",
                ok_codes=(0, 1, 128),
            )
            if code == 0:
                return out.decode().strip()
        return None

    async def branches(self, project_id: int) -> dict[str, str]:
        out = await self.git(project_id, "for-each-ref", "--format=%(refname)%00%(objectname)", "refs/heads")
        pairs = (line.split("\0") for line in out.decode().splitlines() if line)
        return {ref[len("refs/heads/") :]: sha for ref, sha in pairs}

    async def tags(self, project_id: int) -> list[dict]:
        fmt = "%(refname)%1f%(objecttype)%1f%(objectname)%1f%(*objectname)%1f%(taggerdate:iso-strict)%1f%(contents)%1e"
        out = await self.git(project_id, "for-each-ref", f"--format={fmt}", "--sort=-creatordate", "refs/tags")
        tags = []
        for record in out.decode("utf-8", "replace").split("\x1e"):
            record = record.strip("\n")
            if not record:
                continue
            ref, kind, obj, peeled, date, contents = record.split("\x1f", 5)
            annotated = kind == "tag"
            tags.append(
                {
                    "name": ref[len("refs/tags/") :],
                    "target": obj,
                    "commit_sha": peeled if annotated else obj,
                    "message": contents.rstrip("\n") if annotated else None,
                    "created_at": date if annotated else None,
                }
            )
        return tags

    async def log(
        self,
        project_id: int,
        rev_range: list[str],
        paths: list[str] | None = None,
        limit: int | None = None,
        extra: list[str] | None = None,
    ) -> list[dict]:
        args = ["log", f"--format={LOG_FORMAT}", "--date-order"] + (extra or [])
        if limit:
            args.append(f"-n{limit}")
        args += rev_range + ["--"] + (paths or [])
        return parse_log(await self.git(project_id, *args))

    async def commit(self, project_id: int, sha: str) -> dict | None:
        commits = await self.log(project_id, [sha], limit=1)
        return commits[0] if commits else None

    async def is_ancestor(self, project_id: int, a: str, b: str) -> bool:
        code, _ = await run_git(self.path(project_id), "merge-base", "--is-ancestor", a, b, ok_codes=(0, 1))
        return code == 0

    async def merge_base(self, project_id: int, a: str, b: str) -> str | None:
        code, out = await run_git(self.path(project_id), "merge-base", a, b, ok_codes=(0, 1))
        return out.decode().strip() if code == 0 else None

    async def branches_containing(self, project_id: int, sha: str) -> list[str]:
        """Branch names whose history contains ``sha``, sorted by name."""
        out = await self.git(
            project_id, "for-each-ref", "--contains", sha, "--sort=refname", "--format=%(refname)", "refs/heads"
        )
        return [ref[len("refs/heads/") :] for ref in out.decode().splitlines() if ref]

    async def count(self, project_id: int, rev_range: str) -> int:
        return int((await self.git(project_id, "rev-list", "--count", rev_range)).decode().strip())

    async def diffs(self, project_id: int, base: str, head: str) -> list[dict]:
        """GitLab diff objects between two commits (renames detected)."""
        raw = (await self.git(project_id, "diff", "--raw", "-z", "-M", base, head)).decode("utf-8", "replace")
        fields, entries = raw.split("\0"), []
        i = 0
        while i < len(fields) - 1:
            meta = fields[i].lstrip(":").split()
            status = meta[4]
            if status[0] in "RC":
                old, new, i = fields[i + 1], fields[i + 2], i + 3
            else:
                old = new = fields[i + 1]
                i += 2
            entries.append(
                {
                    "old_path": old,
                    "new_path": new,
                    "a_mode": meta[0],
                    "b_mode": meta[1],
                    "new_file": status == "A",
                    "renamed_file": status[0] == "R",
                    "deleted_file": status == "D",
                    "generated_file": False,
                }
            )
        patch = (await self.git(project_id, "diff", "-M", "--no-color", "--no-ext-diff", base, head)).decode(
            "utf-8", "replace"
        )
        chunks = ["diff --git " + c for c in patch.split("\ndiff --git ")] if patch else []
        if chunks:
            chunks[0] = chunks[0][len("diff --git ") :]
        for entry, chunk in zip(entries, chunks, strict=False):
            lines = chunk.split("\n")
            start = next((n for n, line in enumerate(lines) if line.startswith("@@")), len(lines))
            entry["diff"] = "\n".join(lines[start:])
            if entry["diff"] and not entry["diff"].endswith("\n"):
                entry["diff"] += "\n"
        return entries

    # -- writing ---------------------------------------------------------------------------
    async def update_ref(self, project_id: int, ref: str, new: str, old: str | None = None) -> None:
        await self.git(project_id, "update-ref", ref, new, *([old] if old is not None else []))

    async def delete_ref(self, project_id: int, ref: str) -> None:
        await self.git(project_id, "update-ref", "-d", ref)

    async def commit_files(
        self, project_id: int, parent: str | None, actions: list[dict], message: str, name: str, email: str
    ) -> str:
        """A new commit on top of ``parent`` applying ``actions`` (create/update/delete with
        file_path/content), built with plumbing in a temporary index; returns its sha."""
        path = self.path(project_id)
        with tempfile.TemporaryDirectory(prefix="fake-gitlab-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                await run_git(path, "read-tree", parent, env=env)
            for action in actions:
                if action["action"] == "delete":
                    await run_git(path, "update-index", "--force-remove", action["file_path"], env=env)
                    continue
                content = action.get("content", "")
                data = content.encode() if isinstance(content, str) else content
                _, blob = await run_git(path, "hash-object", "-w", "--stdin", input=data)
                await run_git(
                    path,
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    f"100644,{blob.decode().strip()},{action['file_path']}",
                    env=env,
                )
            _, tree = await run_git(path, "write-tree", env=env)
        parents = ["-p", parent] if parent else []
        _, sha = await run_git(
            path, "commit-tree", tree.decode().strip(), *parents, "-m", message, env=identity_env(name, email)
        )
        return sha.decode().strip()

    async def merge_tree(self, project_id: int, target: str, source: str) -> str | None:
        """The tree of merging ``source`` into ``target``, or None when they conflict."""
        code, out = await run_git(
            self.path(project_id), "merge-tree", "--write-tree", "--no-messages", target, source, ok_codes=(0, 1)
        )
        return out.decode().split("\n", 1)[0].strip() if code == 0 else None

    async def commit_tree(
        self, project_id: int, tree: str, parents: list[str], message: str, name: str, email: str
    ) -> str:
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        out = await self.git(project_id, *args, "-m", message, env=identity_env(name, email))
        return out.decode().strip()

    async def create_tag(
        self, project_id: int, name: str, sha: str, message: str | None, tagger: tuple[str, str]
    ) -> None:
        if message:
            await self.git(project_id, "tag", "-a", name, sha, "-m", message, env=identity_env(*tagger))
        else:
            await self.git(project_id, "tag", name, sha)

    async def valid_ref_name(self, name: str, kind: str = "heads") -> bool:
        code, _ = await run_git(None, "check-ref-format", f"refs/{kind}/{name}", ok_codes=(0, 1))
        return code == 0
