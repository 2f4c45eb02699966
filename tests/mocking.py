"""Test doubles loaded by the product through its own configuration, as JupyterHub's tests do
with ``spawner_class`` and ``jupyterhub/tests/mocking.py``.

``CrashingPromoter``: the promotion service's ``Promoter`` that dies by SIGKILL at one point
of a run (an OOM kill or a power cut there); the next start must resume the run. Loaded with::

    jupyterhub-ds-promotion --PromotionService.promoter_class=tests.mocking.CrashingPromoter \\
        --CrashingPromoter.crash_at=before:push
"""

from __future__ import annotations

import os
import signal

from traitlets import Enum

from jupyterhub_ds.promotion.promote import Promoter

# where a run can be cut: around each side effect on Docker and GitLab
CRASH_POINTS = (
    "before:clean_run",
    "after:clean_run",
    "before:push",
    "after:push",
    "before:tag",
    "after:tag",
    "before:note",
)


class CrashingPromoter(Promoter):
    crash_at = Enum(
        CRASH_POINTS,
        allow_none=True,
        default_value=None,
        help="Where the service is killed (SIGKILL): before or after a side effect.",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        remote_for = self.remote_for
        self.remote_for = lambda path: CrashingRemote(remote_for(path), self.crash)

    def crash(self, point):
        if point == self.crash_at:
            self.log.warning("CrashingPromoter: SIGKILL %s (the test's fault)", point)
            os.kill(os.getpid(), signal.SIGKILL)

    def clean_run(self, job, source_tar):
        self.crash("before:clean_run")
        outcome = super().clean_run(job, source_tar)
        self.crash("after:clean_run")
        return outcome


class CrashingRemote:
    """A RemoteProject that calls ``crash`` around its side effects on GitLab."""

    def __init__(self, remote, crash):
        self._remote, self._crash = remote, crash

    def __getattr__(self, name):
        return getattr(self._remote, name)

    async def push(self, sha, branch):
        self._crash("before:push")
        await self._remote.push(sha, branch)
        self._crash("after:push")

    async def tag(self, name):
        # the first look for the tag: the run is recorded as tagging, nothing is created yet
        self._crash("before:tag")
        return await self._remote.tag(name)

    async def create_tag(self, name, sha, message):
        created = await self._remote.create_tag(name, sha, message)
        self._crash("after:tag")
        return created

    async def note_once(self, mr_iid, marker, body):
        self._crash("before:note")
        return await self._remote.note_once(mr_iid, marker, body)
