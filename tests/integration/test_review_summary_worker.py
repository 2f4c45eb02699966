"""The summary worker process: a cell summary within the bound, even with every cell of a large
notebook changed; the script diff when the bound is hit (the busy process is killed and the
standby answers the next request at once)."""

from __future__ import annotations

import asyncio
import time

import jupytext
import nbformat
import pytest

from jupyterhub_ds.review.summary_worker import SummaryWorker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def script(n, word):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {word}({i})\nprint(x{i} + {i})") for i in range(n)]
    return jupytext.writes(nb, fmt="py:percent")


@pytest.fixture
def worker():
    w = SummaryWorker()
    w.warm_up()
    assert w._current.wait_ready(60) and w._standby.wait_ready(60)
    yield w
    w.close()


def summarise(worker, base, new, timeout, diff=None):
    return asyncio.run(
        worker.summarise(
            timeout=timeout,
            path="n.ipynb",
            script_path="n.py",
            target="main",
            base_script=base,
            new_script=new,
            script_diff=diff,
        )
    )


def test_worker_processes_run_below_the_server_so_the_users_kernel_comes_first(worker):
    import os

    from jupyterhub_ds.review.summary_worker import WORKER_NICENESS

    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for proc in (worker._current.proc, worker._standby.proc):
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(mine + WORKER_NICENESS, 19)


def test_small_edit_gets_the_cell_summary(worker):
    base = script(300, "f")
    new = base.replace("x150 = f(150)", "x150 = g(150)")
    text, fallback = summarise(worker, base, new, 10)
    assert not fallback and "**0** cells added, **0** removed, **1** changed." in text
    assert "-x150 = f(150)\n+x150 = g(150)" in text


def test_every_cell_changed_still_gets_the_cell_summary_within_the_bound(worker):
    base, new = script(1000, "f"), script(1000, "g")  # every cell differs (nbdime took minutes)
    t0 = time.monotonic()
    text, fallback = summarise(worker, base, new, 1.2)
    assert not fallback and time.monotonic() - t0 < 1.2
    assert "**0** cells added, **0** removed, **1000** changed." in text


def test_bound_hit_falls_back_kills_the_busy_worker_and_the_standby_takes_over(worker):
    base, new = script(1000, "f"), script(1000, "g")  # reading the two scripts alone takes longer
    busy = worker._current
    t0 = time.monotonic()
    text, fallback = summarise(worker, base, new, 0.05, diff=lambda: "@@ -1 +1 @@\n-a\n+b")
    assert fallback and time.monotonic() - t0 < 1.0
    assert "_the cell-level summary took longer than 0.05 s; showing the script's unified diff._" in text
    assert "```diff\n--- a/n.py\n+++ b/n.py\n@@ -1 +1 @@\n-a\n+b\n```" in text
    busy.proc.wait(5)  # killed
    assert worker._current is not busy and worker._current.proc.poll() is None
    t0 = time.monotonic()
    text, fallback = summarise(worker, script(5, "f"), script(5, "f").replace("f(2)", "h(2)"), 5)
    assert not fallback and "**1** changed." in text and time.monotonic() - t0 < 2.0


def test_a_dead_worker_is_replaced_by_the_standby_and_a_failure_falls_back(worker):
    text, fallback = summarise(worker, "# %%\nx = 1\n", "# %%\nx = 2\n", 5)
    assert not fallback
    dead = worker._current
    dead.proc.kill()
    dead.proc.wait(5)
    standby = worker._standby
    text, fallback = summarise(worker, "# %%\nx = 1\n", "# %%\nx = 2\n", 2)
    assert not fallback and "-x = 1\n+x = 2" in text  # answered by the standby, at once
    assert worker._current is standby and worker._standby is not None
    # a worker that dies in the middle of a request: the script diff, with the reason
    worker._current.proc.stdin.close()
    text, fallback = summarise(worker, "# %%\nx = 1\n", "# %%\nx = 3\n", 5)
    assert fallback and "_the cell-level summary failed; showing the script's unified diff._" in text
