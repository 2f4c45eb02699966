"""The merge request's cell-level summary (Markdown). Pure.

``aligned_changes`` matches the cells of two notebooks as nbdime does (same type, and similar
sources: at least 95% alike first, then 70%; a longest common subsequence at each level), in
bounded time: identical cells are paired first by their content (difflib on the cells'
(type, source)), and only what is left is compared, every cell with every cell for a small
stretch, along the diagonal and in a window for a large one, with a bound on the comparisons
and on the text each one reads. ``cell_summary`` turns the changes into "cells
added/removed/changed" with code diffs in fenced blocks; ``script_summary`` is the fallback
(the script's unified diff) used when the summary does not finish within the time bound or
fails. Everything that comes from the user is either inside a code fence or HTML-escaped, so
GitLab renders it as text.
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
    lines = [
        _heading(path, target),
        "",
        f"**{counts['added']}** cells added, **{counts['removed']}** removed, **{counts['changed']}** changed.",
    ]
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


def script_summary(
    path: str,
    script_path: str,
    target: str,
    old_script: str,
    new_script: str,
    reason: str,
    diff_text: str | None = None,
) -> str:
    """The fallback; ``diff_text`` is a unified diff body (from ``@@``) made elsewhere (git's is fast)."""
    if diff_text is not None:
        diff = [f"--- a/{script_path}", f"+++ b/{script_path}"] + diff_text.splitlines() if diff_text.strip() else []
    else:
        diff = list(
            difflib.unified_diff(
                old_script.splitlines(),
                new_script.splitlines(),
                fromfile=f"a/{script_path}",
                tofile=f"b/{script_path}",
                lineterm="",
            )
        )
    body = "\n".join(_clip(diff, MAX_FALLBACK_LINES)) or "(no changes)"
    return (
        "\n".join(
            [
                _heading(path, target),
                "",
                f"_{html.escape(reason)}; showing the script's unified diff._",
                "",
                fence(body, "diff"),
            ]
        )
        + "\n"
    )


# nbdime's thresholds (nbdime.diffing.notebooks): sources at least this alike are the same cell
STRICT, APPROXIMATE = 0.95, 0.7
SHORT = 10  # nbdime pairs two short sources (both under 10 characters) without comparing them
CHAR_LIMIT = 400  # two sources up to this many characters together are compared as nbdime does
LINE_CHARS = 200  # past that, by lines, and the characters of at most LINE_PAIRS changed lines
LINE_PAIRS = 16
FULL_GRID = 4096  # a stretch of a x b cells up to this is matched as nbdime does, every cell with every cell
WINDOW = 8  # in a larger stretch, a cell looks for its partner this far ahead on either side
MAX_COMPARISONS = 20_000  # past this, what is left is paired by position (bounds the whole summary)


def _char_ratio(x: str, y: str) -> float:
    """difflib's ratio with nbdime's cut-offs: the cheap upper bounds first."""
    m = difflib.SequenceMatcher(None, x, y, autojunk=False)
    r = m.real_quick_ratio()
    if r > APPROXIMATE:
        r = m.quick_ratio()
        if r > APPROXIMATE:
            r = m.ratio()
    return r


def _line_ratio(x: str, y: str) -> float:
    """The characters two long sources share, in bounded work: equal lines count whole; lines
    replaced by others are compared character by character, pairwise, up to LINE_PAIRS pairs
    of their first LINE_CHARS characters."""
    a, b = x.splitlines(keepends=True), y.splitlines(keepends=True)
    shared, pairs = 0, LINE_PAIRS
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            shared += sum(len(line) for line in a[i1:i2])
        elif tag == "replace":
            for u, v in zip(a[i1:i2], b[j1:j2], strict=False):
                if pairs <= 0:
                    break
                pairs -= 1
                u, v = u[:LINE_CHARS], v[:LINE_CHARS]
                blocks = difflib.SequenceMatcher(None, u, v, autojunk=False).get_matching_blocks()
                shared += sum(block.size for block in blocks)
    return 2 * shared / (len(x) + len(y))


def _trigrams(text: str) -> frozenset:
    return frozenset(text[k : k + 3] for k in range(max(1, len(text) - 2)))


class _Matcher:
    """Whether two cells are the same cell at a threshold, each pair compared once, with a
    budget of comparisons."""

    def __init__(self, base: list[dict], new: list[dict]):
        self.base, self.new, self.budget = base, new, MAX_COMPARISONS
        self._ratios: dict[tuple[int, int], float] = {}
        self._grams: dict[tuple[int, int], frozenset] = {}

    def ratio(self, i: int, j: int) -> float:
        """How alike the sources of base[i] and new[j] are (0..1; a bound below APPROXIMATE)."""
        key = (i, j)
        if key not in self._ratios:
            x, y = self.base[i]["source"], self.new[j]["source"]
            if self.budget <= 0:
                r = 0.0
            elif x == y:
                r = 1.0
            else:
                self.budget -= 1
                r = _char_ratio(x, y) if len(x) + len(y) <= CHAR_LIMIT else _line_ratio(x, y)
            self._ratios[key] = r
        return self._ratios[key]

    def same(self, i: int, j: int, threshold: float, quick: bool = False) -> bool:
        """nbdime's compare_cell_strict (STRICT) or compare_cell_approximate (APPROXIMATE) on
        type and source. ``quick``: first a cheap test (shared three-letter sequences) that
        rules out most unrelated cells, for the look-ahead in large stretches."""
        a, b = self.base[i], self.new[j]
        x, y = a["source"], b["source"]
        if a["cell_type"] != b["cell_type"] or bool(x) != bool(y):
            return False
        if x == y or (threshold == APPROXIMATE and len(x) < SHORT and len(y) < SHORT):
            return True
        if quick and (i, j) not in self._ratios:
            gx, gy = self._gram(0, i, x), self._gram(1, j, y)
            if 2 * len(gx & gy) < 0.5 * (len(gx) + len(gy)):
                return False
        return self.ratio(i, j) > threshold

    def _gram(self, side: int, k: int, text: str) -> frozenset:
        if (side, k) not in self._grams:
            self._grams[side, k] = _trigrams(text)
        return self._grams[side, k]


def _lcs(m: _Matcher, threshold: float, i0: int, i1: int, j0: int, j1: int) -> list[tuple[int, int]]:
    """The pairs of a longest common subsequence of base[i0:i1] and new[j0:j1] under ``same``,
    backtracked as nbdime's brute force does (every cell compared with every cell)."""
    n, k = i1 - i0, j1 - j0
    grid = [[m.same(i0 + x, j0 + y, threshold) for y in range(k)] for x in range(n)]
    lengths = [[0] * (k + 1) for _ in range(n + 1)]
    for x in range(1, n + 1):
        row, above, hit = lengths[x], lengths[x - 1], grid[x - 1]
        for y in range(1, k + 1):
            row[y] = above[y - 1] + 1 if hit[y - 1] else max(above[y], row[y - 1])
    pairs, x, y = [], n, k
    while x > 0 and y > 0:
        if grid[x - 1][y - 1]:
            x, y = x - 1, y - 1
            pairs.append((i0 + x, j0 + y))
        elif lengths[x][y] == lengths[x - 1][y]:
            x -= 1
        else:
            y -= 1
    return pairs[::-1]


def _walk(m: _Matcher, threshold: float, i0: int, i1: int, j0: int, j1: int) -> list[tuple[int, int]]:
    """Pairs of a large stretch in linear work: along the diagonal while the cells are the same
    (every cell edited: one comparison each); else the nearest partner within WINDOW cells
    ahead on either side (cells added or removed); else both cells stay unpaired."""
    pairs, i, j = [], i0, j0
    while i < i1 and j < j1:
        if m.same(i, j, threshold):
            pairs.append((i, j))
            i, j = i + 1, j + 1
            continue
        for d in range(1, WINDOW + 1):
            if j + d < j1 and m.same(i, j + d, threshold, quick=True):
                j += d
                break
            if i + d < i1 and m.same(i + d, j, threshold, quick=True):
                i += d
                break
        else:
            i, j = i + 1, j + 1
            continue
        pairs.append((i, j))
        i, j = i + 1, j + 1
    return pairs


def _match(m: _Matcher, thresholds: tuple, i0: int, i1: int, j0: int, j1: int) -> list[tuple[int, int]]:
    """nbdime's multilevel matching of a stretch: pairs at the first threshold, then the gaps
    between them at the next; every cell with every cell in a small stretch, a walk along the
    diagonal in a large one."""
    if i0 == i1 or j0 == j1 or not thresholds:
        return []
    small = (i1 - i0) * (j1 - j0) <= FULL_GRID
    pairs = (_lcs if small else _walk)(m, thresholds[0], i0, i1, j0, j1)
    matched = []
    for i, j in pairs + [(i1, j1)]:
        matched += _match(m, thresholds[1:], i0, i, j0, j)
        if (i, j) != (i1, j1):
            matched.append((i, j))
        i0, j0 = i + 1, j + 1
    return matched


def aligned_changes(base_cells: list[dict], new_cells: list[dict]) -> list[tuple]:
    """Cell changes [(kind, cell number (1-based: in the new notebook, in the old one for
    removed cells), base cell, new cell)], in nbdime's order: identical cells are paired by
    content first, then each differing stretch is matched as nbdime matches cells (see
    _match), in bounded time."""
    key = [(c["cell_type"], c["source"]) for c in base_cells], [(c["cell_type"], c["source"]) for c in new_cells]
    m = _Matcher(base_cells, new_cells)
    pairs = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, *key, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs += [(i1 + d, j1 + d) for d in range(i2 - i1)]
        else:
            matched = _match(m, (STRICT, APPROXIMATE), i1, i2, j1, j2)
            if m.budget <= 0:  # out of comparisons: what is left is paired by position
                matched = _by_position(base_cells, new_cells, matched, i1, i2, j1, j2)
            pairs += matched
    changes, i0, j0 = [], 0, 0
    for i, j in pairs + [(len(base_cells), len(new_cells))]:
        changes += [("added", y + 1, None, new_cells[y]) for y in range(j0, j)]
        changes += [("removed", x + 1, base_cells[x], None) for x in range(i0, i)]
        if i < len(base_cells) and j < len(new_cells):
            old, new = base_cells[i], new_cells[j]
            if old["source"] != new["source"] or old["cell_type"] != new["cell_type"]:
                changes.append(("changed", j + 1, old, new))
        i0, j0 = i + 1, j + 1
    return changes


def _by_position(base_cells, new_cells, matched, i1, i2, j1, j2):
    """``matched`` plus, in each gap, the cells of the same type at the same distance from the
    gap's start (the summary stays cell by cell when the comparison budget is spent)."""
    out, i0, j0 = [], i1, j1
    for i, j in matched + [(i2, j2)]:
        out += [
            (i0 + d, j0 + d)
            for d in range(min(i - i0, j - j0))
            if base_cells[i0 + d]["cell_type"] == new_cells[j0 + d]["cell_type"]
        ]
        if (i, j) != (i2, j2):
            out.append((i, j))
        i0, j0 = i + 1, j + 1
    return out


def compute_cell_summary(path: str, target: str, base_cells: list[dict], new_cells: list[dict]) -> str:
    """The summary from cells; runs in the summary worker process, under its time bound."""
    return cell_summary(path, target, aligned_changes(base_cells, new_cells))


def mr_description(user_text: str, summary: str) -> str:
    """The user's text first, then our summary; the user's text is Markdown they wrote for GitLab."""
    user_text = (user_text or "").strip()
    return (user_text + "\n\n---\n\n" if user_text else "") + summary
