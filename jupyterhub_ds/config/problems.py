"""A problem found in the admin YAML, and how it is printed.

Every check returns ``Problem`` objects; the loader formats them as
``<file>:<line>: <yaml path>: <what is wrong>; <fix>`` so check-config and the hub
print exactly the same lines.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """``path`` is where the problem is (e.g. ``("profiles", 2, "mem_limit")``);
    ``line_path`` is the node whose line is reported, when it differs (an unknown key)."""

    path: tuple
    message: str
    line_path: tuple | None = None
    line: int | None = None


def format_path(path):
    """``("profiles", 2, "mem_limit")`` -> ``profiles[2].mem_limit``; ``()`` -> ``(top level)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def show(value, limit=60):
    """A value as the admin wrote it in YAML, shortened: '16 gigs', 3, true, null."""
    if value is None:
        text = "null"
    elif value is True or value is False:
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def line_of(lines, path):
    """The 1-based line of ``path``, or of its nearest ancestor that has one."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)


ENV = "$env"  # path head of problems about environment variables (no line in the file)


def format_problem(problem, file_name, lines):
    if problem.path and problem.path[0] == ENV:
        return f"{file_name}: env {problem.path[1]}: {problem.message}"
    return f"{file_name}:{_line(problem, lines)}: {format_path(problem.path)}: {problem.message}"


def sort_key(problem, lines):
    if problem.path and problem.path[0] == ENV:
        return (float("inf"), problem.path[1], problem.message)
    return (_line(problem, lines), format_path(problem.path), problem.message)


def _line(problem, lines):
    if problem.line is not None:
        return problem.line
    return line_of(lines, problem.line_path if problem.line_path is not None else problem.path)
