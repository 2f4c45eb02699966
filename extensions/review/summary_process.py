"""The summary worker process: ``python -m jupyterhub_ds.review.summary_process``.

Reads one JSON request per line on stdin, answers one JSON line on stdout. Started (and killed
at the time bound) by ``summary_worker.SummaryWorker``; it never touches files or the network.
"""

from __future__ import annotations

import json
import sys
from collections import OrderedDict

from . import summary

_base_cache: OrderedDict = OrderedDict()  # script text hash -> cells (re-submits keep the same base)


def script_cells(script: str) -> list:
    import jupytext

    if not script:
        return []
    key = hash(script)
    if key not in _base_cache:
        _base_cache[key] = summary.text_cells(jupytext.reads(script, fmt="py:percent"))
        while len(_base_cache) > 8:
            _base_cache.popitem(last=False)
    return _base_cache[key]


def handle(request: dict) -> dict:
    base = script_cells(request["base_script"])
    new = request.get("new_cells")
    new = script_cells(request["new_script"]) if new is None else new
    return {"ok": True, "text": summary.compute_cell_summary(request["path"], request["target"], base, new)}


def main():
    import jupytext  # noqa: F401  (imported before "ready", not per request)

    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            answer = handle(json.loads(line))
        except Exception as e:  # answered, not raised: the parent falls back to the script diff
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
