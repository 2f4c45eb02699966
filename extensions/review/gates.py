"""Pre-submit gates: pure functions over plain data, each naming file, cell and fix.

Every gate takes a :class:`Submission` (what the user has and what would be committed) and
returns a :class:`GateResult`. ``run_gates`` runs them all in the order of the REST contract.
Cells are numbered from 1, as JupyterLab shows them.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath

import jupytext
import nbformat
from packaging.utils import canonicalize_name

from jupyterhub_ds.sizes import format_size

from . import packages as pkgs
from .policy import ReviewPolicy
from .script_cells import cell_of_line, cell_starts, imports_of, split_cells
from .secret_patterns import CachedScanner, compile_patterns, scan_text

GATES = ("paired", "no_outputs", "secrets", "size", "syntax", "packages")
BINARY_MIME = ("image/", "audio/", "video/", "application/pdf", "application/octet-stream")


@dataclass(frozen=True)
class Submission:
    notebook_path: str  # repo path of the .ipynb, e.g. notebooks/eda.ipynb
    notebook: dict  # the notebook as the user saved it (nbformat dict, with outputs)
    notebook_size: int  # bytes of the .ipynb on disk
    script_path: str  # repo path of the paired py:percent script
    script: str | None  # its text on disk, None when missing
    files: dict  # repo path -> bytes, exactly what would be committed
    policy: ReviewPolicy = field(default_factory=ReviewPolicy)
    local_modules: frozenset = frozenset()
    written_together: bool = False  # both files are as one jupytext save left them


@dataclass
class GateResult:
    gate: str
    ok: bool
    messages: list

    def to_json(self) -> dict:
        return asdict(self)


def _name(path: str) -> str:
    return PurePosixPath(path).name


def _result(gate, messages):
    return GateResult(gate, not messages, messages)


# sizes in the messages: binary units, one decimal ("2.0 KB", "200.0 MB", "10 bytes")
human_size = functools.partial(format_size, decimals=1, bytes_unit="bytes")


def _cells_for_compare(nb) -> list:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def _without_header(text: str) -> str:
    """The script after jupytext's ``# ---`` YAML header (versions and options may differ)."""
    if text.startswith("# ---\n"):
        end = text.find("\n# ---\n", 5)
        if end != -1:
            text = text[end + 7 :]
    return text.strip()


def _sources_only(nb: dict):
    """The notebook without outputs, as nbformat nodes (outputs do not change the script)."""
    cells = [{k: v for k, v in c.items() if k not in ("outputs", "attachments")} for c in nb.get("cells", [])]
    for c in cells:
        if isinstance(c.get("source"), list):  # the .ipynb on disk splits sources into lines
            c["source"] = "".join(c["source"])
        if c.get("cell_type") == "code":
            c.update(outputs=[], execution_count=None)
    return nbformat.from_dict({**nb, "cells": cells})


def gate_paired(s: Submission) -> GateResult:
    nb_name, py_name = _name(s.notebook_path), _name(s.script_path)
    if s.script is None:
        return _result(
            "paired",
            [
                f"{s.notebook_path} is not paired: {s.script_path} is missing; save the notebook in JupyterLab "
                f"(the pairing writes {py_name}), then submit again"
            ],
        )
    if s.written_together:
        return _result("paired", [])  # jupytext wrote the script from this very notebook
    try:
        written = jupytext.writes(_sources_only(s.notebook), fmt="py:percent")
    except Exception:  # an odd notebook: the slow path below names the cell
        written = None
    if written is not None and _without_header(written) == _without_header(s.script):
        return _result("paired", [])  # what the pairing would write now is what is on disk
    try:
        script_nb = jupytext.reads(s.script, fmt="py:percent")
    except Exception as e:  # jupytext raises many kinds on malformed text
        return _result(
            "paired",
            [
                f"{s.script_path} cannot be read as a py:percent script ({e}); delete it and "
                f"save {nb_name} again to rewrite it"
            ],
        )
    # the notebook goes through the same writer/reader so formatting details compare equal
    expected = jupytext.reads(written or jupytext.writes(_sources_only(s.notebook), fmt="py:percent"), fmt="py:percent")
    want, have = _cells_for_compare(expected), _cells_for_compare(script_nb)
    if want == have:
        return _result("paired", [])
    fix = (
        f"save the notebook in JupyterLab so the pairing rewrites {py_name} (or reopen {nb_name} if you "
        f"edited {py_name}), then submit again"
    )
    for i, (a, b) in enumerate(zip(want, have, strict=False), 1):  # the lengths are compared after
        if a != b:
            return _result("paired", [f"{s.notebook_path} cell {i} differs from {s.script_path}; {fix}"])
    return _result("paired", [f"{s.notebook_path} has {len(want)} cells but {s.script_path} has {len(have)}; {fix}"])


def gate_no_outputs(s: Submission) -> GateResult:
    messages = []
    for path, data in sorted(s.files.items()):
        if not path.endswith(".ipynb"):
            continue
        try:
            nb = json.loads(data)
        except ValueError:
            messages.append(f"{path} is not valid notebook JSON; reopen and save it, then submit again")
            continue
        cells = [
            i for i, c in enumerate(nb.get("cells", []), 1) if c.get("outputs") or c.get("execution_count") is not None
        ]
        if cells:
            shown = ", ".join(str(i) for i in cells[:10]) + (" …" if len(cells) > 10 else "")
            messages.append(
                f"{path} cell{'s' if len(cells) > 1 else ''} {shown}: outputs would be committed; "
                "clear them (Edit > Clear Outputs of All Cells), save, then submit again"
            )
    return _result("no_outputs", messages)


def _output_texts(output: dict):
    if "text" in output:
        yield "".join(output["text"]) if isinstance(output["text"], list) else output["text"]
    for mime, value in (output.get("data") or {}).items():
        if mime.startswith(BINARY_MIME):
            continue  # base64 images/PDFs: no secret is readable there, and they are large
        yield value if isinstance(value, str) else "".join(value) if isinstance(value, list) else json.dumps(value)
    if output.get("traceback"):
        yield "\n".join(output["traceback"])
    if output.get("evalue"):
        yield str(output["evalue"])


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def gate_secrets(s: Submission) -> GateResult:
    patterns = compile_patterns(s.policy.secret_patterns)
    scan_cell = CachedScanner(patterns)
    messages, seen = [], set()
    for i, cell in enumerate(s.notebook.get("cells", []), 1):
        source = _source(cell)
        outputs = [t for o in cell.get("outputs", []) for t in _output_texts(o)]
        # one pass over the whole cell (remembered: unchanged cells are not scanned again);
        # only a cell with a finding is scanned part by part to say where
        if not scan_cell("\n".join([source, *outputs])):
            continue
        for f in scan_text(source, patterns):
            seen.add((i, f.kind))
            messages.append(
                f"{s.notebook_path} cell {i}: code contains what looks like {f.kind} ({f.shown}); "
                "remove it (read secrets from a file outside the project or an environment variable), "
                "then submit again"
            )
        out_kinds = {f.kind: f for t in outputs for f in scan_text(t, patterns)}
        for f in out_kinds.values():
            messages.append(
                f"{s.notebook_path} cell {i}: output contains what looks like {f.kind} ({f.shown}); "
                "clear the output and remove the token from the code, then submit again"
            )
    for path, data in sorted(s.files.items()):
        if path.endswith(".ipynb"):
            continue  # the notebook's cells were scanned above
        text = data.decode("utf-8", "replace")
        findings = scan_text(text, patterns)
        starts = cell_starts(text) if findings and path == s.script_path else []
        for f in findings:
            cell = cell_of_line(starts, f.line) if starts else 0
            if (cell, f.kind) in seen:
                continue
            where = f"{path} line {f.line}" + (f" (cell {cell})" if cell else "")
            messages.append(
                f"{where}: contains what looks like {f.kind} ({f.shown}); remove it, save, then submit again"
            )
    return _result("secrets", messages)


def _largest_output_cell(nb: dict):
    sizes = [(len(json.dumps(c.get("outputs", []))), i) for i, c in enumerate(nb.get("cells", []), 1)]
    return max(sizes, default=(0, 0))


def gate_size(s: Submission) -> GateResult:
    limit, total_limit = s.policy.max_file_size, s.policy.max_submission_size
    messages = []
    if s.notebook_size > limit:
        size, cell = _largest_output_cell(s.notebook)
        hint = f" (cell {cell} holds {human_size(size)} of output)" if cell and size > limit // 10 else ""
        messages.append(
            f"{s.notebook_path} is {human_size(s.notebook_size)}, above the limit of {human_size(limit)} "
            f"per file{hint}; clear large outputs, save, then submit again"
        )
    for path, data in sorted(s.files.items()):
        if len(data) > limit and path != s.notebook_path:
            messages.append(
                f"{path} is {human_size(len(data))}, above the limit of {human_size(limit)} per file; "
                "move data out of the code (load it from the shared data folder), then submit again"
            )
    total = sum(len(d) for d in s.files.values())
    if total > total_limit:
        messages.append(
            f"this submission is {human_size(total)}, above the limit of {human_size(total_limit)}; "
            "split the work or move data out of the notebook, then submit again"
        )
    return _result("size", messages)


def _compile(source: str) -> SyntaxError | None:
    """Compiled (not parsed into Python AST objects: a 1000-cell script makes tens of thousands
    of them, and every garbage collection afterwards walks them). Top-level ``await`` is allowed,
    as in a notebook."""
    try:
        compile(source, "<script>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        return None
    except SyntaxError as e:
        return e
    except ValueError as e:  # NUL bytes in the source
        return SyntaxError(str(e))


_CELL_COMPILES: dict = {}  # digest of a cell's text -> it compiles on its own; bounded
CELL_COMPILES_MAX = 50_000


def _cell_compiles(text: str) -> bool:
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    ok = _CELL_COMPILES.get(key)
    if ok is None:
        ok = _compile(text) is None
        if len(_CELL_COMPILES) >= CELL_COMPILES_MAX:
            _CELL_COMPILES.clear()
        _CELL_COMPILES[key] = ok
    return ok


@lru_cache(maxsize=4)
def _syntax_error(script: str) -> SyntaxError | None:
    """The script's syntax error, or None. Checked cell by cell with each cell's verdict
    remembered, so a resubmit with a few edited cells compiles only those: when every cell
    compiles on its own the script does too (top-level statements are checked one by one), except
    for ``from __future__`` imports, which must come first in the file. In that case, and when a
    cell does not compile on its own (a string or bracket may span cells), the whole script is
    compiled: its error, with the line number, is the answer."""
    if "__future__" not in script and all(_cell_compiles(c) for c in split_cells(script)):
        return None
    return _compile(script)


@lru_cache(maxsize=4)
def _imports(script: str) -> tuple:
    return tuple(imports_of(ast.parse(script)))


def gate_syntax(s: Submission) -> GateResult:
    if s.script is None:
        return _result("syntax", [])  # reported by the paired gate
    err = _syntax_error(s.script)
    if err is None:
        return _result("syntax", [])
    line = err.lineno
    cell = cell_of_line(cell_starts(s.script), line) if line else 0
    where = (
        s.script_path
        + (f" line {line}" if line else "")
        + (f" (cell {cell} of {_name(s.notebook_path)})" if cell else "")
    )
    return _result("syntax", [f"{where}: {err.msg}; fix the code in that cell, save, then submit again"])


def gate_packages(s: Submission) -> GateResult:
    allowed = s.policy.allowed_packages
    if allowed is None or s.script is None:
        return _result("packages", [])
    if _syntax_error(s.script) is not None:
        return _result("packages", [])  # reported by the syntax gate
    allowed_set = frozenset(canonicalize_name(a) for a in allowed)
    starts, messages, done = cell_starts(s.script), [], set()
    for imp in _imports(s.script):
        if imp.module in done or pkgs.is_allowed(imp.module, allowed_set, s.local_modules):
            continue
        done.add(imp.module)
        dist = pkgs.best_name(imp.module)
        cell = cell_of_line(starts, imp.line)
        package = f" (package {dist})" if dist != canonicalize_name(imp.module) else ""
        messages.append(
            f"{s.notebook_path} cell {cell}: imports '{imp.module}'{package}, which is not on the allowed "
            f"package list ({', '.join(sorted(allowed)) or 'empty'}); use an allowed package or ask an "
            f"admin to add {dist}, then submit again"
        )
    return _result("packages", messages)


READ_LIMIT_FLOOR = 64 * 1024 * 1024


def too_big_to_read(size: int, policy: ReviewPolicy) -> bool:
    """Notebooks this far over the limit are not parsed at all (a 200 MB notebook would take
    more memory than a small sandbox has)."""
    return size > max(2 * policy.max_file_size, READ_LIMIT_FLOOR)


def oversized_notebook(notebook_path: str, size: int, policy: ReviewPolicy) -> list[GateResult]:
    """The gate results for a notebook too big to read: the size gate says what to do."""
    message = (
        f"{notebook_path} is {human_size(size)}, above the limit of {human_size(policy.max_file_size)} per "
        "file; clear large outputs (Edit > Clear Outputs of All Cells), save, then submit again"
    )
    return [
        GateResult(g, False, [message])
        if g == "size"
        else GateResult(g, True, ["not checked until the notebook is under the size limit"])
        for g in GATES
    ]


GATE_FUNCTIONS = (gate_paired, gate_no_outputs, gate_secrets, gate_size, gate_syntax, gate_packages)


def run_gates(s: Submission) -> list[GateResult]:
    return [gate(s) for gate in GATE_FUNCTIONS]
