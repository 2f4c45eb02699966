"""Run the cell summary in a worker process under a time bound.

A process rather than a thread: the summary's work is bounded (summary.py), but a notebook
reader or a pathological source could still run long, and an abandoned thread would keep a
core (and the GIL) busy. At the bound the busy process is killed and a standby process,
already started and warm, takes over, so the next submit does not wait for Python to start.
The protocol is one JSON line each way (summary_process.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import subprocess
import sys
import threading
import time

from . import summary

FIRST_START_TIMEOUT = 30.0
WORKER_NICENESS = 5  # added to the server's own niceness (nice(1))


class WorkerProcess:
    def __init__(self):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub_ds.review.summary_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        try:  # background work: the user's kernel and the server's own requests come first
            os.setpriority(os.PRIO_PROCESS, self.proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS)
        except OSError:
            pass
        self.ready = False
        self._buf = b""

    def _readline(self, deadline: float) -> bytes | None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    return None
                chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    return None  # the process died
                self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def wait_ready(self, timeout: float) -> bool:
        if not self.ready:
            line = self._readline(time.monotonic() + timeout)
            self.ready = line == b"ready"
        return self.ready

    def ask(self, request: dict, deadline: float) -> dict | None:
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        line = self._readline(deadline)
        return None if line is None else json.loads(line)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        threading.Thread(target=self.proc.wait, daemon=True).start()  # reap without blocking


class SummaryWorker:
    """The worker process (and its standby) of one server; ``close()`` stops them. ``executor``:
    where the blocking waits on the process run (None: the event loop's default pool)."""

    def __init__(self, timeout: float = 1.2, log=None, standby: bool = True, executor=None):
        self.timeout = timeout
        self.log = log
        self.standby = standby
        self.executor = executor
        self._lock = threading.Lock()  # one request at a time per worker process
        self._procs_lock = threading.Lock()
        self._current: WorkerProcess | None = None
        self._standby: WorkerProcess | None = None
        self._ever_ready = False

    def warm_up(self):
        """Start the worker and its standby early (cheap to call again)."""
        with self._procs_lock:
            if self._standby is not None and self._standby.proc.poll() is not None:
                self._standby = None
            if self._current is None or self._current.proc.poll() is not None:
                self._current, self._standby = self._standby or WorkerProcess(), None
            if self._standby is None and self.standby:
                self._standby = WorkerProcess()

    def _take_current(self) -> WorkerProcess:
        self.warm_up()
        with self._procs_lock:
            return self._current

    def _replace(self, broken: WorkerProcess):
        broken.kill()
        with self._procs_lock:
            if self._current is broken:
                self._current, self._standby = self._standby, None
        # the next standby starts beside the request, not in its way
        threading.Thread(target=self.warm_up, name="summary-standby", daemon=True).start()

    def close(self):
        with self._procs_lock:
            for p in (self._current, self._standby):
                if p is not None:
                    p.kill()
            self._current = self._standby = None

    def _run(self, timeout, request) -> str | None:
        """Blocking: the summary, or None when the bound is hit."""
        deadline = time.monotonic() + timeout
        if not self._lock.acquire(timeout=timeout):
            return None  # another summary holds the worker for its whole bound
        try:
            worker = self._take_current()
            if not self._ever_ready:
                # the very first start (Python + jupytext imports) is not
                # part of the bound; later a warm standby is always waiting
                worker.wait_ready(FIRST_START_TIMEOUT)
                deadline = time.monotonic() + timeout
            if not worker.wait_ready(max(0.0, deadline - time.monotonic())):
                if worker.proc.poll() is not None:
                    self._replace(worker)
                return None
            self._ever_ready = True
            try:
                answer = worker.ask(request, deadline)
            except OSError:  # the process died (pipe closed): the standby takes over
                self._replace(worker)
                raise RuntimeError("the summary worker stopped") from None
            if answer is None:
                self._replace(worker)
                return None
            if not answer.get("ok"):
                raise RuntimeError(answer.get("error", "unknown error"))
            return answer["text"]
        finally:
            self._lock.release()

    async def summarise(
        self, *, timeout=None, path, script_path, target, base_script, new_script, new_cells=None, script_diff=None
    ):
        """-> (Markdown, fallback used?). Falls back to the script's unified diff at the bound or on any
        summary error. ``new_cells`` (type and source of the notebook's cells) spares parsing
        ``new_script``; ``script_diff`` (blocking, -> diff text) computes it faster than difflib can."""
        loop = asyncio.get_running_loop()
        timeout = self.timeout if timeout is None else timeout
        reason = f"the cell-level summary took longer than {timeout:g} s"
        request = {
            "path": path,
            "target": target,
            "base_script": base_script,
            "new_script": new_script,
            "new_cells": new_cells,
        }
        try:
            text = await loop.run_in_executor(self.executor, self._run, timeout, request)
        except Exception as e:  # the summary failing must not fail the submit
            if self.log:
                self.log.warning("cell summary failed for %s: %s", path, e)
            text, reason = None, "the cell-level summary failed"
        if text is not None:
            return text, False
        diff = None
        if script_diff is not None:
            try:
                diff = await loop.run_in_executor(self.executor, script_diff)
            except Exception as e:
                if self.log:
                    self.log.warning("git diff for the summary of %s failed: %s", path, e)
        return summary.script_summary(path, script_path, target, base_script, new_script, reason, diff), True
