"""Git side of a submit, with GitPython (blocking: callers run these in an executor).

The user's working copy is never touched: no checkout, no change of HEAD or of the index.
The review commit is written as git objects (gitdb, GitPython's tree helpers, ``git commit-tree``)
from the remote base's tree plus the planned files, and pushed as ``<commit>:refs/heads/<review branch>`` with a lease on what we fetched, so
only the user's own review branch can ever be overwritten.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import git
from git.objects.fun import tree_entries_from_data, tree_to_stream
from git.objects.tree import TreeModifier
from gitdb import IStream, LooseObjectDB
from gitdb.exc import BadObject

from jupyterhub_ds import git_command

REMOTE = "origin"
BLOB_MODE, TREE_MODE = 0o100644, 0o040000


class GitFailure(Exception):
    """kind: 'auth' | 'token' | 'unreachable' | 'rejected' | 'stale' | 'other'."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def project_path(remote_url: str, gitlab_url: str) -> str | None:
    """``http://gl/ns/sub/proj.git`` -> ``ns/sub/proj`` when the remote is on ``gitlab_url``."""
    remote = urlsplit(git_command.scrub(remote_url))
    base = urlsplit(gitlab_url.rstrip("/"))
    if not gitlab_url or (remote.scheme, remote.netloc) != (base.scheme, base.netloc):
        return None
    path = remote.path
    if base.path and not path.startswith(base.path + "/"):
        return None
    path = path[len(base.path) :].strip("/")
    return path[:-4] if path.endswith(".git") else path or None


AUTH_CODE = re.compile(r"(?:error|http)[: ]+40[13]\b")


def classify(stderr: str) -> str:
    s = stderr.lower()
    if "stale info" in s or "fetch first" in s or "non-fast-forward" in s:
        return "stale"
    if "authentication failed" in s or "access denied" in s or "could not read username" in s or AUTH_CODE.search(s):
        return "auth"
    if (
        "could not resolve host" in s
        or "failed to connect" in s
        or "connection refused" in s
        or "timed out" in s
        or "empty reply" in s
        or "returned error: 50" in s
        or "couldn't connect" in s
        or "recv failure" in s
        or "unexpected disconnect" in s
        or "hung up unexpectedly" in s
        or "connection reset" in s
    ):
        return "unreachable"
    if "rejected" in s or "pre-receive hook declined" in s or "not allowed" in s:
        return "rejected"
    return "other"


@dataclass
class Git:
    """One working copy. Every git process is started through ``jupyterhub_ds.git_command``
    (no hooks, no configured helpers or proxies, no secret in its environment); network
    commands get the GitLab token from ``token`` (called once per command, in this thread)
    through a pipe, or use ``helper`` instead when one is configured."""

    repo: git.Repo
    gitlab_url: str = ""
    token: Callable[[], str] | None = None
    helper: str = ""
    timeout: float = 120.0
    protocols: str = "http:https"  # git transports allowed (GIT_ALLOW_PROTOCOL): GitLab speaks http(s)
    _loose: LooseObjectDB | None = None

    @classmethod
    def open(
        cls,
        root,
        *,
        gitlab_url: str = "",
        token=None,
        helper: str = "",
        timeout: float = 120.0,
        protocols: str = "http:https",
    ) -> Git:
        repo = git.Repo(root)
        # GitPython's own git processes (rev-parse, cat-file, merge-base): the same -c options,
        # and every variable we would not pass emptied (GitPython only adds to os.environ)
        repo.git.set_persistent_git_options(c=list(git_command.SAFE_CONFIG))
        repo.git.update_environment(**git_command.blanked_environment())
        return cls(repo, gitlab_url, token, helper, timeout, protocols)

    def close(self):
        """Stop GitPython's long-running object readers (else they live until garbage collection)."""
        self.repo.close()

    def run(self, *args: str, env: dict | None = None, network: bool = False) -> str:
        limit = self.timeout if network else 60
        token = None
        if network and self.token and not self.helper:
            try:
                token = self.token()
            except Exception as e:  # the hub did not answer, or the login has ended
                raise GitFailure(
                    "token", f"could not get your GitLab token from the hub ({type(e).__name__}: {e})"
                ) from None
        try:
            proc = git_command.run(
                args,
                cwd=self.repo.working_dir,
                timeout=limit,
                token=token,
                env={**(env or {}), "GIT_ALLOW_PROTOCOL": self.protocols},
                gitlab_url=self.gitlab_url,
                helper=self.helper if network else None,
            )
        except git_command.GitTimeout:
            raise GitFailure(
                "unreachable" if network else "other", f"git {args[0]} got no answer within {limit:.0f} s"
            ) from None
        if proc.returncode != 0:
            stderr = "\n".join(x.decode("utf-8", "replace") for x in (proc.stderr, proc.stdout) if x)
            raise GitFailure(classify(stderr), git_command.message(stderr, token or "") or f"git {args[0]} failed")
        return proc.stdout.decode("utf-8", "replace").rstrip("\n")

    def remote_url(self) -> str:
        try:
            return self.repo.remote(REMOTE).url
        except ValueError:
            raise GitFailure("other", f"the working copy has no '{REMOTE}' remote") from None

    def current_branch(self) -> str | None:
        try:
            return self.repo.active_branch.name
        except TypeError:  # detached HEAD
            return None

    def fetch_review_refs(self, target: str, branch: str) -> tuple[str | None, str | None]:
        """Fetch the target branch and the user's review branches (one round trip);
        -> (target sha, review branch sha or None)."""
        user_ns = branch.rsplit("/", 1)[0]
        try:
            self.run(
                "fetch",
                "--quiet",
                "--no-tags",
                "--prune",
                REMOTE,
                f"+refs/heads/{target}:refs/remotes/{REMOTE}/{target}",
                f"+refs/heads/{user_ns}/*:refs/remotes/{REMOTE}/{user_ns}/*",
                network=True,
            )
        except GitFailure as e:
            if "couldn't find remote ref" in e.message.lower():
                return None, None  # the target branch does not exist
            raise
        return self.rev(f"refs/remotes/{REMOTE}/{target}"), self.rev(f"refs/remotes/{REMOTE}/{branch}")

    def tracking_refs(self, target: str, branch: str) -> tuple[str | None, str | None]:
        """-> (target sha, review branch sha) as the last fetch or push left them here. Read from
        the ref files by GitPython: no network, no git process."""

        def known(name: str) -> str | None:
            try:
                return git.SymbolicReference.dereference_recursive(self.repo, f"refs/remotes/{REMOTE}/{name}")
            except (ValueError, OSError):
                return None

        return known(target), known(branch)

    def rev(self, ref: str) -> str | None:
        try:
            return self.repo.git.rev_parse("--verify", "--quiet", ref + "^{commit}")
        except git.GitCommandError:
            return None

    def is_ancestor(self, a: str, b: str) -> bool:
        try:
            self.repo.git.merge_base("--is-ancestor", a, b)
            return True
        except git.GitCommandError:
            return False

    def file_at(self, sha: str | None, path: str) -> bytes | None:
        if not sha:
            return None
        try:
            return (self.repo.commit(sha).tree / path).data_stream.read()
        except KeyError:
            return None

    def diff_text(self, base_commit: str | None, path: str, new: bytes) -> str:
        """Unified diff body (from the first ``@@``) of ``path`` at ``base_commit`` -> ``new``, by git."""
        new_blob = self._store(new).hex()
        try:
            old_blob = (self.repo.commit(base_commit).tree / path).hexsha if base_commit else None
        except KeyError:
            old_blob = None
        if old_blob is None:
            lines = new.decode("utf-8", "replace").splitlines()
            return f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join("+" + line for line in lines)
        out = self.run("diff", "--no-color", "--no-ext-diff", "--no-textconv", old_blob, new_blob)
        start = out.find("\n@@")
        return out[start + 1 :] if start != -1 else ""

    def _loose_db(self) -> LooseObjectDB:
        if self._loose is None:
            self._loose = LooseObjectDB(os.path.join(self.repo.common_dir, "objects"))
        return self._loose

    def _store(self, data: bytes, kind: str = "blob") -> bytes:
        """Write an object as a loose object with gitdb, in this process (GitPython's own ``store``
        runs one ``git hash-object`` per object); -> its binary sha."""
        return self._loose_db().store(IStream(kind, len(data), io.BytesIO(data))).binsha

    def _read(self, binsha: bytes) -> bytes:
        """An object's data: read in this process when it is a loose object (a resubmit's parent
        commit and trees were written here by the last submit), else by git's object reader."""
        try:
            return self._loose_db().stream(binsha).read()
        except BadObject:
            return self.repo.odb.stream(binsha).read()

    def _tree_with(self, tree_sha: bytes | None, files: dict) -> bytes:
        """The tree ``tree_sha`` (None: empty) with ``files`` (path below it -> bytes) written in;
        -> the new tree's binary sha. Only the trees on the changed paths are rewritten."""
        entries = tree_entries_from_data(self._read(tree_sha)) if tree_sha else []
        modifier = TreeModifier(entries)
        here, below = {}, {}
        for path, data in files.items():
            head, _, rest = path.partition("/")
            if rest:
                below.setdefault(head, {})[rest] = data
            else:
                here[head] = data
        for name, data in here.items():
            modifier.add(self._store(data), BLOB_MODE, name, force=True)
        for name, sub in below.items():
            old = next((sha for sha, mode, n in entries if n == name and mode == TREE_MODE), None)
            modifier.add(self._tree_with(old, sub), TREE_MODE, name, force=True)
        modifier.set_done()  # git's entry order
        out = io.BytesIO()
        tree_to_stream(entries, out.write)
        return self._store(out.getvalue(), "tree")

    def build_commit(self, parent: str, files: dict, message: str, author: dict) -> str:
        """A commit with ``parent``'s tree plus ``files``; the working copy and its index stay as they are.

        Blobs and trees are written with gitdb in this process; the commit itself with
        ``git commit-tree``, so the user's git configuration applies to it as to any commit."""
        # a commit object's first line is "tree <sha>" (git's object format)
        first = self._read(bytes.fromhex(parent)).split(b"\n", 1)[0]
        parent_tree = bytes.fromhex(first.removeprefix(b"tree ").decode())
        tree = self._tree_with(parent_tree, files)
        if tree == parent_tree:
            return parent  # nothing new
        who = {
            "GIT_AUTHOR_NAME": author["name"],
            "GIT_AUTHOR_EMAIL": author["email"],
            "GIT_COMMITTER_NAME": author["name"],
            "GIT_COMMITTER_EMAIL": author["email"],
        }
        return self.run("commit-tree", tree.hex(), "-p", parent, "-m", message, env=who)

    def push(self, commit: str, branch: str, expected: str | None):
        """Push ``commit`` to ``branch`` only if the branch is still at ``expected`` (None: absent)."""
        self.run(
            "push",
            "--quiet",
            f"--force-with-lease=refs/heads/{branch}:{expected or ''}",
            REMOTE,
            f"{commit}:refs/heads/{branch}",
            network=True,
        )
