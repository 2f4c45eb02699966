"""Where a line of the ``py:percent`` script lives in the notebook.

jupytext writes one ``# %%`` marker line at the start of every cell and offers no public
line-to-cell map, so this small scan is ours: line N belongs to the cell whose marker is the
last one at or above N (cells numbered from 1 as JupyterLab shows them; 0 = the file header).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

MARKER = re.compile(r"^#\s*%%")


def cell_starts(script: str) -> list[int]:
    """1-based line numbers of the cell markers."""
    return [i for i, line in enumerate(script.splitlines(), 1) if MARKER.match(line)]


def split_cells(script: str) -> list[str]:
    """The script cut at its cell markers: the header, then one piece per cell (marker line included)."""
    pieces, current = [], []
    for line in script.splitlines(keepends=True):
        if MARKER.match(line) and current:
            pieces.append("".join(current))
            current = []
        current.append(line)
    if current:
        pieces.append("".join(current))
    return pieces


def cell_of_line(starts: list[int], line: int) -> int:
    cell = 0
    for n, start in enumerate(starts, 1):
        if start > line:
            break
        cell = n
    return cell


@dataclass(frozen=True)
class Import:
    module: str  # top-level name, e.g. "sklearn"
    line: int


def imports_of(tree: ast.AST) -> list[Import]:
    """Absolute imports (``import a.b``, ``from a import b``) -> top-level module names, in order."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Import(node.module.split(".")[0], node.lineno))
    return sorted(found, key=lambda i: i.line)
