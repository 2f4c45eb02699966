"""The merge request's cell-level summary (Markdown). Pure.

``cell_summary`` turns nbdime's diff of two notebooks into "cells added/removed/changed" with
code diffs in fenced blocks; ``script_summary`` is the fallback (the script's unified diff)
used when nbdime does not finish within the time bound. Everything that comes from the user
is either inside a code fence or HTML-escaped, so GitLab renders it as text.
"""

from __future__ import annotations

import difflib
import html
import re

MAX_CELLS_SHOWN = 60
MAX_DIFF_LINES = 120
MAX_FALLBACK_LINES = 2000


def text_cells(nb) -> list[dict]:
    """Only what a reviewer reads: type and source (ids, metadata and outputs dropped; trailing
    blank lines dropped as jupytext does, so a notebook and its script give the same cells)."""
    cells = nb["cells"] if isinstance(nb, dict) else nb.cells
    out = []
    for c in cells:
        source = c.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        out.append({"cell_type": c.get("cell_type", "code"), "source": source.rstrip("\n")})
    return out


def as_notebook(cells: list[dict]) -> dict:
    """A minimal nbformat 4.4 notebook (no cell ids, so ids never show up as changes)."""
    body = []
    for c in cells:
        cell = {"cell_type": c["cell_type"], "metadata": {}, "source": c["source"]}
        if c["cell_type"] == "code":
            cell.update(outputs=[], execution_count=None)
        body.append(cell)
    return {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": body}


def fence(text: str, lang: str = "") -> str:
    """A fenced block whose fence is longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip(chr(10))}\n{ticks}"


def _clip(lines: list[str], limit: int) -> list[str]:
    return lines if len(lines) <= limit else lines[:limit] + [f"… {len(lines) - limit} more lines"]


def _source_diff(old: str, new: str) -> str:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2))[2:]
    return "\n".join(_clip(lines, MAX_DIFF_LINES))


def cell_changes(diff: list, base_cells: list[dict], new_cells: list[dict]) -> list[tuple]:
    """nbdime ops on ``cells`` -> [(kind, new or base cell number (1-based), base cell, new cell)]."""
    ops = next((e["diff"] for e in diff if e["key"] == "cells" and e["op"] == "patch"), [])
    changes, offset = [], 0
    for op in ops:
        k = op["key"]
        if op["op"] == "addrange":
            for j, _ in enumerate(op["valuelist"]):
                n = k + offset + j
                changes.append(("added", n + 1, None, new_cells[n]))
            offset += len(op["valuelist"])
        elif op["op"] == "removerange":
            for j in range(op["length"]):
                changes.append(("removed", k + j + 1, base_cells[k + j], None))
            offset -= op["length"]
        elif op["op"] == "patch":
            old, new = base_cells[k], new_cells[k + offset]
            if old["source"] != new["source"] or old["cell_type"] != new["cell_type"]:
                changes.append(("changed", k + offset + 1, old, new))
    return changes


def _heading(path: str, target: str) -> str:
    return f"### Notebook changes in `{html.escape(path)}` (compared with `{html.escape(target)}`)"


def cell_summary(path: str, target: str, changes: list[tuple]) -> str:
    counts = {k: sum(1 for c in changes if c[0] == k) for k in ("added", "removed", "changed")}
    lines = [_heading(path, target), "",
             f"**{counts['added']}** cells added, **{counts['removed']}** removed, **{counts['changed']}** changed."]
    if not changes:
        lines += ["", "No cell changes."]
    for kind, number, old, new in changes[:MAX_CELLS_SHOWN]:
        cell = new or old
        where = "in the new notebook" if kind != "removed" else "in the old notebook"
        lines += ["", f"#### Cell {number} {kind} ({cell['cell_type']}, {where})", ""]
        if kind == "changed":
            lines.append(fence(_source_diff(old["source"], new["source"]), "diff"))
        else:
            src = "\n".join(_clip(cell["source"].splitlines(), MAX_DIFF_LINES)) or "(empty)"
            lines.append(fence(src, "python" if cell["cell_type"] == "code" else ""))
    if len(changes) > MAX_CELLS_SHOWN:
        lines += ["", f"… and {len(changes) - MAX_CELLS_SHOWN} more changed cells (see the Changes tab)."]
    return "\n".join(lines) + "\n"


def script_summary(path: str, script_path: str, target: str, old_script: str, new_script: str, reason: str,
                   diff_text: str | None = None) -> str:
    """The fallback; ``diff_text`` is a unified diff body (from ``@@``) made elsewhere (git's is fast)."""
    if diff_text is not None:
        diff = [f"--- a/{script_path}", f"+++ b/{script_path}"] + diff_text.splitlines() if diff_text.strip() else []
    else:
        diff = list(difflib.unified_diff(old_script.splitlines(), new_script.splitlines(),
                                         fromfile=f"a/{script_path}", tofile=f"b/{script_path}", lineterm=""))
    body = "\n".join(_clip(diff, MAX_FALLBACK_LINES)) or "(no changes)"
    return "\n".join([_heading(path, target), "", f"_{html.escape(reason)}; showing the script's unified diff._",
                      "", fence(body, "diff")]) + "\n"


def aligned_changes(base_cells: list[dict], new_cells: list[dict]) -> list[tuple]:
    """Cell changes: identical cells are paired first with difflib (linear for a few edits in a
    long notebook), then nbdime matches the cells inside each differing stretch. nbdime alone
    on a 1000-cell notebook compares every cell with every other and takes many seconds."""
    import nbdime
    import nbformat

    key = [(c["cell_type"], c["source"]) for c in base_cells], [(c["cell_type"], c["source"]) for c in new_cells]
    changes = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, *key, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        old, new = base_cells[i1:i2], new_cells[j1:j2]
        diff = nbdime.diff_notebooks(nbformat.from_dict(as_notebook(old)), nbformat.from_dict(as_notebook(new)))
        for kind, number, a, b in cell_changes(diff, old, new):
            changes.append((kind, number + (i1 if kind == "removed" else j1), a, b))
    return changes


def compute_cell_summary(path: str, target: str, base_cells: list[dict], new_cells: list[dict]) -> str:
    """The nbdime part; runs in the summary worker process (may be slow on big rewrites)."""
    return cell_summary(path, target, aligned_changes(base_cells, new_cells))


def mr_description(user_text: str, summary: str) -> str:
    """The user's text first, then our summary; the user's text is Markdown they wrote for GitLab."""
    user_text = (user_text or "").strip()
    return (user_text + "\n\n---\n\n" if user_text else "") + summary
