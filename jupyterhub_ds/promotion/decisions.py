"""Promotion decisions: pure functions over plain data (no Docker, no GitLab, no database).

A run moves through phases, each recorded before (``…ing``) and after (``…ed``) its side
effect, so that a run killed anywhere can be resumed by looking at the record and the remote
state (``next_step``):

    created -> gating -> gated -> pushing -> pushed -> tagging -> tagged -> noting -> done
                           \\-> failed (clean run failed: nothing moves)

``gating``/``gated`` are the clean run's phases (names kept as stored in existing records).

Order of side effects: the branch is fast-forwarded first, then the tag is created, then the
merge requests are noted. A tag therefore never exists without its branch; a branch moved
without its tag (killed in between) gets its tag on resume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timezone

PHASES = ("created", "gating", "gated", "pushing", "pushed", "tagging", "tagged", "noting", "done", "failed")
FINAL_PHASES = ("done", "failed")
TAG_PREFIX = "promote"
RECORD_MARKER = "--- jupyterhub-ds promotion record ---"


@dataclass(frozen=True)
class Choice:
    """What a tick does for one lane: ``promote`` ``commit``, or ``skip`` with a reason."""

    action: str  # "promote" | "skip" | "refuse"
    commit: str | None
    reason: str


def choose_commit(source, target, source_sha, target_sha, target_is_ancestor):
    """Which commit a tick promotes: the source lane's head, if it is new and a fast-forward.

    ``target_is_ancestor``: whether ``target_sha`` is an ancestor of ``source_sha`` (so moving
    the target to ``source_sha`` is a fast-forward).
    """
    if source_sha is None:
        return Choice("refuse", None, f"source branch {source!r} does not exist; create it or fix the lane")
    if target_sha == source_sha:
        return Choice("skip", None, f"{target} is already at {source}'s head {source_sha[:12]}; nothing new to promote")
    if target_sha is not None and not target_is_ancestor:
        return Choice(
            "refuse",
            source_sha,
            f"{target} ({target_sha[:12]}) is not an ancestor of {source} ({source_sha[:12]}), so promoting "
            f"would not be a fast-forward; merge {target} into {source} (it may carry a rollback commit) "
            "and the next tick promotes it",
        )
    return Choice("promote", source_sha, f"{source} head {source_sha[:12]} is new for {target}")


def tag_name(target, when):
    """``promote/<lane>/<UTC timestamp>``, e.g. ``promote/staging/20261121T020000Z``."""
    stamp = when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{TAG_PREFIX}/{target}/{stamp}"


def next_step(phase, passed, remote_target_sha, commit, target_is_ancestor, tag_exists):
    """What a (resumed) run does next, from its recorded phase and the remote state.

    ``passed``: the recorded clean run passed. Returns one of ``clean_run``, ``push``, ``tag``, ``note``, ``finish`` (nothing left), ``fail``
    (with the reason as second element: ``(step, reason)``).
    """
    if phase in FINAL_PHASES:
        return ("finish", "")
    if phase in ("created", "gating"):
        return ("clean_run", "")
    if not passed:
        return ("fail", "the clean run did not pass")
    if phase in ("gated", "pushing"):
        if remote_target_sha == commit:
            return ("tag", "")  # the push happened (killed before it was recorded)
        if remote_target_sha is None or target_is_ancestor:
            return ("push", "")
        return (
            "fail",
            f"the target branch moved to {remote_target_sha[:12]}, which {commit[:12]} does not contain; "
            "nothing was promoted, the next tick takes the new head",
        )
    if phase in ("pushed", "tagging"):
        return ("note", "") if tag_exists else ("tag", "")
    if phase in ("tagged", "noting"):
        return ("note", "")
    raise ValueError(f"unknown promotion phase {phase!r}; known: {', '.join(PHASES)}")


def merge_request_in_range(mr, shas):
    """Whether a merged MR (python-gitlab attributes as a dict) landed through one of ``shas``."""
    candidates = (mr.get("merge_commit_sha"), mr.get("squash_commit_sha"), mr.get("sha"))
    return any(c and c in shas for c in candidates)


def note_text(target, tag, commit, web_url=None):
    where = f"[{tag}]({web_url})" if web_url else f"`{tag}`"
    return f"Promoted to {target} in {where} (commit {commit[:12]}) by the jupyterhub-ds promotion service."


def clean_run_passed(notebooks, tests, packages):
    """All notebooks ok, tests ok or absent, packages ok."""
    return (
        bool(notebooks)
        and all(nb.get("status") == "ok" for nb in notebooks)
        and tests.get("status") in ("ok", "none")
        and packages.get("status") == "ok"
    )


def first_failure(notebooks, tests, packages):
    """A one-line reason naming where the clean run failed (notebook and cell, tests or packages)."""
    for nb in notebooks:
        if nb.get("status") != "ok":
            if nb.get("status") == "not run":
                continue
            cell = nb.get("failed_cell")
            where = f"{nb['path']} cell {cell}" if cell is not None else nb["path"]
            return f"{where}: {nb.get('error') or nb.get('status')}"
    if tests.get("status") not in ("ok", "none"):
        return f"project tests: {tests.get('error') or tests.get('status')}"
    if packages.get("status") != "ok":
        return f"packages: {'; '.join(packages.get('problems') or [packages.get('status', '?')])}"
    return ""


def tag_message(record):
    """The annotated tag's message: a readable summary, then the record as JSON."""
    lines = [
        f"Promoted {record['source']} -> {record['target']} of {record['project']}",
        f"commit {record['commit']}",
        f"image {record['image']} ({record.get('image_digest') or 'digest unknown'})",
        f"run {record['run_id']}, seed {record.get('seed')}, started {record.get('started_at')}",
    ]
    for nb in record.get("notebooks", []):
        lines.append(f"notebook {nb['path']}: {nb['status']} in {nb.get('duration', 0):.1f}s")
    # never the container's log nor the tests' output: they are whatever the project's code
    # printed (secrets included); the record in the service keeps them for admins
    summary = {k: v for k, v in record.items() if k not in ("pip_freeze", "log_tail")}
    if isinstance(summary.get("tests"), dict):
        summary["tests"] = {k: v for k, v in summary["tests"].items() if k != "output"}
    summary["packages"] = len((record.get("pip_freeze") or "").splitlines())
    return "\n".join(lines) + "\n\n" + RECORD_MARKER + "\n" + json.dumps(summary, sort_keys=True, default=str) + "\n"


def record_from_tag_message(message):
    """The JSON record carried by a tag made by :func:`tag_message` (None if there is none)."""
    if not message or RECORD_MARKER not in message:
        return None
    return json.loads(message.split(RECORD_MARKER, 1)[1].strip())
