"""Review-run decisions: pure functions over plain data (no Docker, no GitLab, no database).

A review run is the clean run of a merge request's head commit, limited to the notebooks the
merge request changes (``notebooks_to_run``). Runs wait in a queue; ``runs_to_start`` picks
which start (a global limit and one per project by default), ``to_cancel`` which queued runs a
newer commit of the same merge request replaces. What GitLab shows comes from here too: the
commit status (``gitlab_status``) and the one merge-request note (``note_text``), whose
user-written parts (paths, errors, cell sources) are always code, never Markdown.
``review_gate`` is what ``require_review_run`` asks of a promotion.
"""

from __future__ import annotations

import re
from collections import Counter

STATUS_NAME = "jupyterhub-ds/run"
NOTE_MARKER = "<!-- jupyterhub-ds:review-run -->"
PERCENT_CELL = re.compile(r"^# %%", re.M)
UNSAFE_PATH = re.compile(r"[\x00-\x1f\x7f]")
MAX_DESCRIPTION = 140
MAX_ERROR = 500
MAX_SOURCE = 1500


def is_percent_script(text):
    """Whether a ``.py`` file is a notebook: a jupytext py:percent script (``# %%`` cells)."""
    return bool(PERCENT_CELL.search(text))


def notebooks_to_run(changed, percent_scripts, limit):
    """The notebooks of ``changed`` (paths added or modified at the head) -> (run, skipped).

    A notebook is an ``.ipynb`` file or a ``.py`` file in ``percent_scripts`` (jupytext
    py:percent); when both files of a pair changed, the ``.ipynb`` runs (once). Sorted by
    path; beyond ``limit`` they are skipped (and named so)."""
    chosen = {}
    for path in sorted(changed):
        if UNSAFE_PATH.search(path) or path.startswith(("/", "-")) or ".." in path.split("/"):
            continue
        stem, dot, suffix = path.rpartition(".")
        if not dot or (suffix == "py" and path not in percent_scripts) or suffix not in ("py", "ipynb"):
            continue
        if suffix == "ipynb" or stem not in chosen:
            chosen[stem] = path
    found = sorted(chosen.values())
    return found[:limit], found[limit:]


def review_passed(notebooks, packages):
    """Every chosen notebook ran (none chosen: nothing to fail) and the packages are allowed."""
    return all(nb.get("status") == "ok" for nb in notebooks) and packages.get("status", "ok") == "ok"


def first_failure(notebooks, packages):
    for nb in notebooks:
        if nb.get("status") not in ("ok", "not run"):
            cell = nb.get("failed_cell")
            where = f"{nb['path']} cell {cell}" if cell is not None else nb["path"]
            return f"{where}: {nb.get('error') or nb.get('status')}"
    if packages.get("status", "ok") != "ok":
        return f"packages: {'; '.join(packages.get('problems') or [packages.get('status', '?')])}"
    return ""


def runs_to_start(queued, running, concurrency, per_project):
    """Which queued runs start now. ``queued``: [(run id, project)] oldest first; ``running``:
    the project of every running run. At most ``concurrency`` in all, ``per_project`` each."""
    counts, total, start = Counter(running), len(running), []
    for run_id, project in queued:
        if total >= concurrency:
            break
        if counts[project] >= per_project:
            continue
        start.append(run_id)
        counts[project] += 1
        total += 1
    return start


def to_cancel(runs, commit):
    """The queued runs of one merge request (``runs``: records as dicts) that a run of ``commit``
    replaces: those of other commits. Running runs finish."""
    return [r["run_id"] for r in runs if r["status"] == "queued" and r["commit"] != commit]


def already_done(runs, commit, force=False):
    """The run of ``commit`` that makes a new one unnecessary: one queued or running, or (unless
    ``force``) one that finished (canceled runs never count)."""
    for run in runs:
        if run["commit"] != commit or run["status"] == "canceled":
            continue
        if run["status"] in ("queued", "running") or not force:
            return run
    return None


def _short(text, limit):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def gitlab_status(run):
    """(state, description) of the commit status for a review run record."""
    status, notebooks = run["status"], run.get("notebooks") or []
    if status == "queued":
        return "pending", "queued for a clean run"
    if status == "running":
        return "running", "running the changed notebooks in a clean container"
    if status == "canceled":
        return "canceled", "a newer commit of this merge request replaced it"
    if status == "passed":
        if not notebooks:
            return "success", "no notebook changed: nothing to run"
        return "success", _short(
            f"{len(notebooks)} notebook{'s' if len(notebooks) != 1 else ''} ran in a clean container", MAX_DESCRIPTION
        )
    reason = run.get("error") or first_failure(notebooks, run.get("packages") or {}) or "failed"
    return "failed", _short(reason, MAX_DESCRIPTION)


def code_span(text, limit=MAX_ERROR):
    """``text`` as one Markdown code span, whatever backticks it holds (GitLab expands no
    references or links in code)."""
    text = _short(text, limit)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text, language="", limit=MAX_SOURCE):
    """``text`` as a fenced Markdown code block that nothing inside can close."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "\n…"
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def note_text(run, run_url, notebook_url):
    """The merge-request note for a finished review run (``run``: its record as a dict);
    ``notebook_url(index)`` links the executed notebook. Starts with :data:`NOTE_MARKER`, by
    which the next run finds it to edit it."""
    notebooks, packages = run.get("notebooks") or [], run.get("packages") or {}
    passed = run["status"] == "passed"
    lines = [
        NOTE_MARKER,
        f"### Clean run {'passed' if passed else 'failed'}",
        "",
        f"Commit {code_span(run['commit'][:12])} of {code_span(run.get('source_branch') or '?')} in "
        f"{code_span(run.get('image') or '?')} (seed {run.get('seed', 0)}) — [run details]({run_url})",
        "",
    ]
    if not notebooks and not run.get("error"):
        lines.append("No notebook changed in this merge request: nothing to run.")
    for index, nb in enumerate(notebooks):
        state = "ok" if nb.get("status") == "ok" else f"**{nb.get('status', 'failed')}**"
        if nb.get("failed_cell") is not None:
            state += f" at cell {nb['failed_cell']}"
        if nb.get("duration") and nb.get("status") != "not run":
            state += f" in {nb['duration']:.1f} s"
        link = f" — [executed notebook]({notebook_url(index)})" if nb.get("html") else ""
        lines.append(f"- {code_span(nb['path'], 300)}: {state}{link}")
    for path in run.get("skipped") or []:
        lines.append(f"- {code_span(path, 300)}: not run (more changed notebooks than a review run takes)")
    failed = next((nb for nb in notebooks if nb.get("status") not in ("ok", "not run")), None)
    if failed is not None:
        where = f"cell {failed['failed_cell']}" if failed.get("failed_cell") is not None else "it"
        error = code_span(failed.get("error") or failed.get("status"))
        colon = ":" if failed.get("failed_source") else "."
        lines += ["", f"{code_span(failed['path'], 300)} {where} failed with {error}{colon}"]
        if failed.get("failed_source"):
            lines += ["", code_block(failed["failed_source"], "python")]
    elif run.get("error"):
        lines += ["", f"The run failed: {code_span(run['error'])}"]
    if packages.get("status", "ok") != "ok":
        lines += ["", "Packages: " + "; ".join(code_span(p, 200) for p in packages.get("problems") or [])]
    lines += [
        "",
        "<sub>The jupyterhub-ds promotion service updates this note at every run of this merge request.</sub>",
    ]
    return "\n".join(lines)


def verdict(runs):
    """The review verdict of one commit from its runs (records as dicts, newest first): a passed
    run wins; else the newest that was not canceled; None without one."""
    kept = [r for r in runs if r["status"] != "canceled"]
    return next((r for r in kept if r["status"] == "passed"), kept[0] if kept else None)


def review_gate(merged, verdicts):
    """What ``require_review_run`` says of a promotion: '' when every merge request merged in
    its range (``merged``: [{"iid", "sha"}]) has a passed review run of its head commit
    (``verdicts``: {sha: verdict record or None}), else the reason naming each that has not."""
    problems = []
    for mr in merged:
        sha = mr.get("sha") or ""
        run = verdicts.get(sha)
        name = f"!{mr['iid']} ({sha[:12]})"
        if run is None:
            problems.append(f"{name} has no review run")
        elif run["status"] in ("queued", "running"):
            problems.append(f"{name}: its review run has not finished yet")
        elif run["status"] != "passed":
            problems.append(f"{name}: its review run failed ({_short(run.get('error') or 'see the run', 200)})")
    if not problems:
        return ""
    return (
        "merged work did not pass its review run (require_review_run): " + "; ".join(problems) + ". Nothing was "
        "promoted; fix and merge again, or ask an admin to start the missing review runs (api/review-runs)"
    )
