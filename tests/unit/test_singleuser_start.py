"""jupyterhub-ds-singleuser: the garbage collector is paused while the server starts and resumes
before the server's first request; JupyterHub's single-user server is what runs.

The spawned servers of the integration and browser tests run this command for real; here a
stand-in for JupyterHub's ``main`` does what Jupyter Server does with the event loop (takes
tornado's current IOLoop while it initialises, then runs it)."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import jupyterhub.singleuser
import pytest
from tornado.ioloop import IOLoop

from jupyterhub_ds import singleuser_start

pytestmark = pytest.mark.unit


@pytest.fixture
def collector():
    """Put the test process's collector back as it was."""
    yield
    gc.enable()
    gc.unfreeze()


@pytest.fixture
def no_current_loop():
    yield
    loop = asyncio.get_event_loop_policy().get_event_loop()
    asyncio.set_event_loop(None)
    loop.close()


def test_paused_while_the_server_starts_resumed_when_its_loop_runs(monkeypatch, caplog, collector, no_current_loop):
    seen = {}

    def server_main(argv=None):
        seen["argv"] = argv
        seen["collecting while starting"] = gc.isenabled()
        io_loop = IOLoop.current()  # what ServerApp.init_ioloop does

        def first_request():
            seen["collecting at the first request"] = gc.isenabled()
            seen["frozen"] = gc.get_freeze_count()
            io_loop.stop()

        io_loop.add_callback(first_request)
        io_loop.start()  # ServerApp.start_ioloop
        return 0

    monkeypatch.setattr(jupyterhub.singleuser, "main", server_main)
    with caplog.at_level(logging.INFO, logger="ServerApp"):
        assert singleuser_start.main(["--debug"]) == 0
    assert seen["argv"] == ["--debug"]
    assert seen["collecting while starting"] is False
    assert seen["collecting at the first request"] is True and seen["frozen"] > 0
    assert "garbage collection resumed" in caplog.text


def test_the_collector_resumes_anyway_if_the_loop_never_runs(collector):
    pause = singleuser_start._StartPause(resume_after=0.1)
    assert not gc.isenabled()
    deadline = time.monotonic() + 5
    while not gc.isenabled() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gc.isenabled() and pause.resumed_after >= 0.1
    pause.resume()  # once only
    assert gc.isenabled()
