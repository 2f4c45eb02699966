"""What a submit commits: files, review branch and commit message. Pure.

Policy: the paired ``py:percent`` script is always committed; the ``.ipynb`` only with
``commit_notebooks``, and then with outputs stripped. The branch is
``<branch_prefix>/<user>/<notebook-slug>``, the same for every submit of one notebook, so a
re-submit updates the same branch and merge request. ``<user>`` is an injective encoding of the
username (:func:`user_component`): two users never share a review branch.
"""

from __future__ import annotations

import copy
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

import nbformat

from .policy import ReviewPolicy

SLUG_MAX = 60


@dataclass(frozen=True)
class CommitPlan:
    branch: str
    target_branch: str
    files: dict  # repo path -> bytes
    message: str
    title: str


def slugify(text: str, max_length: int = SLUG_MAX) -> str:
    """Lower-case ASCII letters, digits, ``-`` and ``.``; anything else becomes ``-``.
    Long slugs are cut and get a short hash of the full text so two paths stay apart."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9.]+", "-", ascii_text.lower())
    slug = re.sub(r"\.{2,}", ".", slug)  # git refuses '..' in ref names
    slug = re.sub(r"[-.]*-[-.]*", "-", slug).strip("-.")  # no '-.' / '.-' runs
    if len(slug) > max_length or not slug:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        slug = (slug[: max_length - 9].rstrip("-.") + "-" + digest).strip("-")
    if slug.endswith(".lock"):
        slug = slug[: -len(".lock")] + "-lock"
    return slug


def notebook_slug(repo_path: str) -> str:
    """``notebooks/EDA v2.ipynb`` -> ``notebooks-eda-v2``."""
    return slugify(str(PurePosixPath(repo_path).with_suffix("")))


_KEPT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def user_component(user: str) -> str:
    """A username as one git ref component, injectively: lower-case letters, digits and ``-``
    stay (GitLab usernames are unique regardless of case); every other byte, ``_`` included,
    becomes ``_`` and two hex digits. ``alice``, ``alice_``, ``_alice``, ``alice-`` and
    ``alice..`` (all valid GitLab usernames) become five different components, each valid in git
    (no ``.``, so no ``..``, ``.lock`` or leading dot)."""
    out = []
    for i, byte in enumerate(user.lower().encode("utf-8")):
        ch = chr(byte)
        out.append(ch if ch in _KEPT and not (i == 0 and ch == "-") else f"_{byte:02x}")
    return "".join(out) or "_"


def branch_name(policy: ReviewPolicy, user: str, repo_path: str) -> str:
    prefix = "/".join(slugify(p) for p in policy.branch_prefix.split("/") if p.strip()) or "review"
    return f"{prefix}/{user_component(user)}/{notebook_slug(repo_path)}"


def strip_outputs(nb: dict) -> dict:
    """A copy without outputs, execution counts or per-run metadata."""
    clean = copy.deepcopy(nb)
    clean.get("metadata", {}).pop("widgets", None)
    for cell in clean.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in ("execution", "collapsed", "scrolled"):
            cell.get("metadata", {}).pop(key, None)
    return clean


def notebook_bytes(nb: dict) -> bytes:
    return nbformat.writes(nbformat.from_dict(nb)).encode() + b"\n"


def commit_message(title: str, description: str, repo_path: str) -> str:
    subject = " ".join(title.split()) or f"Review {repo_path}"
    body = f"Submitted for review from JupyterLab: {repo_path}"
    if description.strip():
        body = description.strip() + "\n\n" + body
    return f"{subject}\n\n{body}\n"


def plan_commit(
    *,
    policy: ReviewPolicy,
    user: str,
    notebook_path: str,
    notebook: dict,
    script_path: str,
    script: bytes,
    title: str,
    description: str = "",
    target_branch: str | None = None,
    strip: bool = True,
) -> CommitPlan:
    files = {script_path: script}
    if policy.commit_notebooks:
        files[notebook_path] = notebook_bytes(strip_outputs(notebook) if strip else notebook)
    clean_title = " ".join(title.split()) or f"Review {notebook_path}"
    return CommitPlan(
        branch=branch_name(policy, user, notebook_path),
        target_branch=target_branch or policy.target_branch,
        files=files,
        message=commit_message(clean_title, description, notebook_path),
        title=clean_title,
    )
