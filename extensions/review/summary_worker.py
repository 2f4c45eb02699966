"""Run the nbdime summary in a worker process under a time bound.

A process rather than a thread: nbdime can run for minutes when every cell differs, and an
abandoned thread would keep a core (and the GIL) busy; a process is killed at the bound and
replaced by a fresh, pre-warmed one.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time

from . import summary

WARM_UP_TIMEOUT = 20.0


def _warm():
    import nbdime  # noqa: F401  (imported once per worker, not per request)
    import nbformat  # noqa: F401


class SummaryWorker:
    def __init__(self, timeout: float = 1.5, log=None):
        self.timeout = timeout
        self.log = log
        self._pool = None
        self._lock = threading.Lock()

    def _get_pool(self):
        with self._lock:
            if self._pool is None:
                ctx = multiprocessing.get_context("spawn")
                self._pool = ctx.Pool(1, initializer=_warm)
            return self._pool

    def warm_up(self):
        """Start the worker early (call from a thread at extension load)."""
        try:
            self._get_pool().apply(_warm)
        except Exception as e:  # a closed pool during shutdown
            if self.log:
                self.log.debug("nbdime worker warm-up skipped: %s", e)

    def _kill(self):
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            pool.join()

    def close(self):
        self._kill()

    def _run(self, timeout, path, target, base_cells, new_cells):
        """Blocking: the summary, or None when the bound is hit (the worker is then replaced)."""
        # the bound is for nbdime, not for starting the worker (spawn + imports, once per process)
        self._get_pool().apply_async(_warm).wait(WARM_UP_TIMEOUT)
        started = time.monotonic()
        result = self._get_pool().apply_async(summary.compute_cell_summary, (path, target, base_cells, new_cells))
        remaining = max(0.05, timeout - (time.monotonic() - started))
        if result.wait(remaining) or result.ready():
            return result.get()
        self._kill()
        # start the next worker now, so the next submit does not pay for it
        threading.Thread(target=self.warm_up, name="nbdime-worker-warm-up", daemon=True).start()
        return None

    async def summarise(self, *, timeout=None, path, script_path, target, base_script, new_script, base_cells, new_cells):
        """Markdown summary; falls back to the script diff at the bound or on any nbdime error."""
        loop = asyncio.get_running_loop()
        timeout = self.timeout if timeout is None else timeout
        reason = f"the cell-level summary took longer than {timeout:g} s"
        try:
            text = await loop.run_in_executor(None, self._run, timeout, path, target, base_cells, new_cells)
        except Exception as e:  # nbdime failing must not fail the submit
            if self.log:
                self.log.warning("nbdime summary failed for %s: %s", path, e)
            text, reason = None, "the cell-level summary failed"
        if text is not None:
            return text, False
        return summary.script_summary(path, script_path, target, base_script, new_script, reason), True


_shared: SummaryWorker | None = None
_shared_lock = threading.Lock()


def shared_worker(log=None) -> SummaryWorker:
    """One worker process per server process (servers made and dropped in one process share it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SummaryWorker(log=log)
        return _shared
