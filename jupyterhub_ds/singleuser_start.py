"""``jupyterhub-ds-singleuser``: JupyterHub's ``jupyterhub-singleuser``, with Python's cyclic
garbage collector paused while the server starts. It is the command of this project's images.

Why: a server start imports some 1500 modules (Jupyter Server, JupyterLab and their extensions,
JupyterHub's single-user extension and, through it, the hub's ORM) and builds their classes and
tables. Meanwhile the collector runs hundreds of times, each full pass over a heap that only
grows, and finds next to no garbage: on the small profile's one CPU that was about a third of a
hub-spawned server's start (docs/performance.md). Python offers no setting for this outside the
process, so the command does it itself (``gc.disable`` before the first import).

Nothing else changes: the collector resumes as the server's event loop starts, before the
server's first request (or after ``RESUME_AFTER`` seconds, whatever happens), and what the start
built, the imported modules and their classes, is moved to the collector's permanent
generation (``gc.freeze``), which later passes skip; what little garbage the start made stays
(a started server holds about 5 MB more). Kernels are other processes: untouched.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

RESUME_AFTER = 120.0  # seconds: the collector resumes then even if the event loop never ran


class _StartPause:
    """The collector's pause for one start; ``resume`` is idempotent and thread-safe."""

    def __init__(self, resume_after: float = RESUME_AFTER):
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.resumed_after: float | None = None
        gc.disable()
        self._fallback = threading.Timer(resume_after, self.resume)
        self._fallback.daemon = True
        self._fallback.start()

    def resume(self) -> None:
        with self._lock:
            if self.resumed_after is not None:
                return
            self.resumed_after = time.monotonic() - self._started
            gc.freeze()
            gc.enable()
            self._fallback.cancel()
        import logging

        logging.getLogger("ServerApp").info(
            "jupyterhub-ds: garbage collection resumed %.2f s after the start (paused while starting)",
            self.resumed_after,
        )


def main(argv=None):
    pause = _StartPause()
    import asyncio

    # The loop the server will run (Jupyter Server takes the current one, tornado's
    # IOLoop.current()); a callback queued now runs at its first turn, once the server listens.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.call_soon(pause.resume)

    from jupyterhub.singleuser import main as singleuser_main

    return singleuser_main(argv)


if __name__ == "__main__":
    sys.exit(main())
