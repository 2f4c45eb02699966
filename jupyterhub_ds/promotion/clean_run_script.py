"""The clean run's runner: executes INSIDE the fresh container (not imported by the service).

The service copies this file and a ``job.json`` into the container and runs
``python clean_run_script.py job.json``. It uses only what the single-user image has (nbformat,
nbclient, jupytext, the standard library) and must stay importable on the image's Python.

For each notebook, in order: read it (``.ipynb``, or a jupytext ``py:percent`` file), inject
the parameters papermill-style (a cell tagged ``injected-parameters`` after the cell tagged
``parameters``, else first) and the seed, execute it with nbclient (per-cell timeout), save the
executed notebook. The first failure stops the run (later notebooks: "not run"). Then the
project's tests (``tests/`` or ``test_*.py``) with pytest (unless the job says ``"tests": false``:
a review run, whose tests are "skipped"), the installed distributions with
their licence fields, and the distributions the notebooks import. Everything goes to
``<out>/result.json``; progress lines go to stdout (the log tail the service records).
"""

import ast
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback

INJECTED_TAG = "injected-parameters"


STARTED = time.monotonic()


def log(message):
    print(f"[clean run {time.monotonic() - STARTED:7.2f}s] {message}", flush=True)


def read_notebook(path):
    import nbformat

    if path.endswith(".py"):
        import jupytext

        return jupytext.read(path)
    return nbformat.read(path, as_version=4)


def parameters_source(parameters, seed):
    lines = ["# Parameters injected by the jupyterhub-ds promotion (clean run)"]
    lines += [f"{name} = {value!r}" for name, value in parameters.items()]
    lines += [
        f"JUPYTERHUB_DS_SEED = {seed!r}",
        "import random as _jhds_random",
        "_jhds_random.seed(JUPYTERHUB_DS_SEED)",
        "try:",
        "    import numpy as _jhds_numpy",
        "    _jhds_numpy.random.seed(JUPYTERHUB_DS_SEED)",
        "except ImportError:",
        "    pass",
    ]
    return "\n".join(lines)


def inject(nb, parameters, seed):
    """Insert the injected cell; return its index (cells after it are shifted by one)."""
    import nbformat

    cell = nbformat.v4.new_code_cell(parameters_source(parameters, seed))
    cell.metadata["tags"] = [INJECTED_TAG]
    at = 0
    for i, existing in enumerate(nb.cells):
        if "parameters" in existing.get("metadata", {}).get("tags", []):
            at = i + 1
            break
    nb.cells.insert(at, cell)
    return at


def error_text(cell):
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return ""


def run_notebook(job, rel_path):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    src_path = os.path.join(job["src"], rel_path)
    result = {"path": rel_path, "status": "failed", "duration": 0.0, "failed_cell": None, "error": "", "cells": 0}
    started = time.monotonic()
    try:
        nb = read_notebook(src_path)
    except Exception as e:  # a missing or unreadable notebook fails the clean run, named
        result["error"] = f"cannot read {rel_path}: {type(e).__name__}: {e}"
        return result, None
    injected_at = inject(nb, job.get("parameters") or {}, job.get("seed", 0))
    result["cells"] = len(nb.cells) - 1
    current = {"index": None}

    def on_cell_start(cell, cell_index, **kwargs):
        current["index"] = cell_index

    kernel = (nb.metadata.get("kernelspec") or {}).get("name") or "python3"
    client = NotebookClient(
        nb,
        timeout=job["cell_timeout"],
        kernel_name=kernel,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": os.path.dirname(src_path) or job["src"]}},
        on_cell_start=on_cell_start,
    )
    log(f"executing {rel_path} ({result['cells']} cells, {job['cell_timeout']}s per cell, kernel {kernel})")
    try:
        client.execute()
        result["status"] = "ok"
    except CellTimeoutError:
        result["status"] = "timeout"
        result["error"] = f"cell did not finish within {job['cell_timeout']}s (cell_timeout)"
    except DeadKernelError as e:
        result["error"] = f"the kernel died: {e}"
    except CellExecutionError as e:
        result["error"] = str(e).strip().splitlines()[-1] if str(e).strip() else "CellExecutionError"
    except Exception as e:
        result["error"] = f"{type(e).__name__}: {e}"
    if result["status"] != "ok":
        index = current["index"]
        if index is not None and index != injected_at:
            own = index - (1 if index > injected_at else 0)
            result["failed_cell"] = own + 1  # 1-based position among the notebook's own cells
            cell = nb.cells[index]
            result["failed_source"] = "".join(cell.get("source", ""))[:500]
            if result["status"] != "timeout":
                result["error"] = error_text(cell) or result["error"]
        elif index == injected_at:
            result["error"] = f"the injected parameters cell failed: {result['error']}"
    result["duration"] = round(time.monotonic() - started, 3)
    log(f"{rel_path}: {result['status']} in {result['duration']}s {result['error']}")
    return result, nb


def save(nb, out_dir, rel_path):
    import nbformat

    target = os.path.join(out_dir, "notebooks", os.path.splitext(rel_path)[0] + ".ipynb")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    nbformat.write(nb, target)


def imported_modules(nb):
    names = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def imports_of(notebooks, src):
    mapping = importlib.metadata.packages_distributions()
    found = []
    for rel_path, nb in notebooks:
        for module in sorted(imported_modules(nb)):
            if module in sys.stdlib_module_names:
                continue
            if os.path.exists(os.path.join(src, module + ".py")) or os.path.isdir(os.path.join(src, module)):
                continue  # a module of the project itself
            for dist in mapping.get(module, [module]):
                found.append({"notebook": rel_path, "module": module, "distribution": dist})
    return found


def installed():
    dists = {}
    for dist in importlib.metadata.distributions():
        md = dist.metadata
        name = md["Name"]
        if not name:
            continue
        dists[name.lower()] = {
            "name": name,
            "version": md["Version"] or "",
            "license": (md.get("License") or "")[:200],
            "license_expression": md.get("License-Expression") or "",
            "classifiers": [c for c in (md.get_all("Classifier") or []) if c.startswith("License")],
        }
    return sorted(dists.values(), key=lambda d: d["name"].lower())


def run_tests(job):
    src = job["src"]
    has_tests = os.path.isdir(os.path.join(src, "tests")) or any(
        n.startswith("test_") and n.endswith(".py") for n in os.listdir(src)
    )
    if not has_tests:
        return {"status": "none"}
    if importlib.util.find_spec("pytest") is None:
        return {
            "status": "failed",
            "error": "the project has tests but pytest is not installed in the image; "
            "add pytest to the project's image",
        }
    log("running the project's tests with pytest")
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=job.get("tests_timeout", 1800),
        )
    except subprocess.TimeoutExpired:
        return {
            "status": "timeout",
            "error": "the tests did not finish in time",
            "duration": time.monotonic() - started,
        }
    tail = (proc.stdout + proc.stderr)[-4000:]
    status = "ok" if proc.returncode == 0 else "failed"
    return {
        "status": status,
        "error": "" if status == "ok" else f"pytest exit {proc.returncode}",
        "output": tail,
        "duration": round(time.monotonic() - started, 3),
    }


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    os.makedirs(job["out"], exist_ok=True)
    os.chdir(job["src"])
    log("started")
    results, executed, stopped = [], [], False
    for rel_path in job["notebooks"]:
        if stopped:
            results.append(
                {"path": rel_path, "status": "not run", "duration": 0.0, "error": "an earlier notebook failed"}
            )
            continue
        result, nb = run_notebook(job, rel_path)
        results.append(result)
        if nb is not None:
            save(nb, job["out"], rel_path)
            executed.append((rel_path, nb))
        stopped = result["status"] != "ok"
    if stopped:
        tests = {"status": "not run"}
    elif not job.get("tests", True):
        tests = {"status": "skipped"}
    else:
        tests = run_tests(job)
    log("listing installed distributions")
    report = {
        "notebooks": results,
        "tests": tests,
        "installed": installed(),
        "imports": imports_of(executed, job["src"]),
        "python": sys.version.split()[0],
    }
    with open(os.path.join(job["out"], "result.json"), "w") as f:
        json.dump(report, f)
    log("done")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except Exception:
        traceback.print_exc()
        sys.exit(3)
