"""A run cut at any crash point is finished by the next start, in process: the Promoter with
an in-memory GitLab and a clean run that passes at once (no Docker). The real-process version,
with SIGKILL, real containers and the GitLab stand-in, is tests/integration/test_promotion_crash.py;
both cut the run where ``tests.mocking.CrashingPromoter`` does."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from jupyterhub_ds.promotion.app import PromotionService
from jupyterhub_ds.promotion.clean_run import CleanRunOutcome
from jupyterhub_ds.promotion.promote import Promoter
from jupyterhub_ds.promotion.records import Store
from jupyterhub_ds.promotion.settings import settings_from_json
from tests.mocking import CRASH_POINTS, CrashingPromoter

pytestmark = pytest.mark.unit

PROJECT = "ds/churn"
HISTORY = ["c0", "c1", "c2"]  # a linear history: an earlier commit is an ancestor of a later one
SETTINGS_JSON = json.dumps(
    {
        "database_url": "sqlite://",
        "timezone": "UTC",
        "projects": [
            {
                "path": PROJECT,
                "image": "img:1",
                "notebooks": ["a.ipynb"],
                "lanes": [{"from": "main", "to": "staging", "schedule": "0 2 * * *"}],
            }
        ],
    }
)
SETTINGS = settings_from_json(SETTINGS_JSON)


class Killed(BaseException):
    """The process died here (a BaseException: nothing in the Promoter may catch it)."""


class FakeGitLab:
    """The project on GitLab: branch heads, tags and MR notes, in memory."""

    gitlab_url = "http://gitlab.invalid"

    def __init__(self):
        self.branches = {"main": "c2", "staging": "c1"}
        self.tags, self.notes, self.pushes = {}, {}, []

    async def heads(self, *branches):
        return {b: self.branches.get(b) for b in branches}

    fetch = heads

    async def fetch_commit(self, sha):
        pass

    async def archive(self, sha):
        return b""

    async def is_ancestor(self, ancestor, descendant):
        return ancestor is None or HISTORY.index(ancestor) <= HISTORY.index(descendant)

    async def commits_between(self, old, new):
        return HISTORY[HISTORY.index(old) + 1 : HISTORY.index(new) + 1]

    async def push(self, sha, branch):
        assert await self.is_ancestor(self.branches[branch], sha), "a push that is not a fast-forward"
        self.pushes.append((branch, sha))
        self.branches[branch] = sha

    async def tag(self, name):
        return self.tags.get(name)

    async def create_tag(self, name, sha, message):
        assert name not in self.tags
        self.tags[name] = {"name": name, "commit": {"id": sha}, "message": message}
        return self.tags[name]

    async def merged_requests(self, target_branch=None):
        return [{"iid": 7, "merge_commit_sha": "c2"}]

    async def note_once(self, mr_iid, marker, body):
        notes = self.notes.setdefault(mr_iid, [])
        if any(marker in n for n in notes):
            return False
        notes.append(body)
        return True


class NoContainers:
    class containers:  # docker-py's client.containers
        @staticmethod
        def list(**filters):
            return []


def passing_clean_run(self, job, source_tar):
    return CleanRunOutcome(
        image_id="sha256:1", notebooks=[{"path": "a.ipynb", "status": "ok", "duration": 0.1}], tests={"status": "none"}
    )


class CleanPromoter(Promoter):
    clean_run = passing_clean_run


class CuttingPromoter(CrashingPromoter):
    clean_run_of_the_image = passing_clean_run

    def crash(self, point):
        if point == self.crash_at:
            raise Killed(point)

    def clean_run(self, job, source_tar):
        self.crash("before:clean_run")
        outcome = self.clean_run_of_the_image(job, source_tar)
        self.crash("after:clean_run")
        return outcome


def promoter(cls, store, gitlab, executor, tmp_path, **config):
    return cls(SETTINGS, store, NoContainers(), lambda path: gitlab, tmp_path, executor=executor, **config)


@pytest.fixture
def executor():
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.mark.parametrize("point", CRASH_POINTS)
async def test_a_run_cut_at_each_point_is_finished_by_the_next_start_exactly_once(point, tmp_path, executor):
    store, gitlab = Store("sqlite://"), FakeGitLab()
    cut = promoter(CuttingPromoter, store, gitlab, executor, tmp_path, crash_at=point)
    with pytest.raises(Killed):
        await cut.run_lane(PROJECT, "main")
    [run] = store.unfinished()
    moved = gitlab.branches["staging"] == "c2"
    assert moved == (point in ("after:push", "before:tag", "after:tag", "before:note")), run.phase

    [resumed] = await promoter(CleanPromoter, store, gitlab, executor, tmp_path).resume_all()
    assert (resumed.id, resumed.status, resumed.phase, resumed.commit) == (run.id, "promoted", "done", "c2")
    assert gitlab.pushes == [("staging", "c2")]
    assert [(t["name"], t["commit"]["id"]) for t in gitlab.tags.values()] == [(resumed.tag, "c2")]
    assert len(gitlab.notes[7]) == 1 and resumed.tag in gitlab.notes[7][0]
    # a further tick finds nothing new
    assert await promoter(CleanPromoter, store, gitlab, executor, tmp_path).run_lane(PROJECT, "main") is None
    assert store.unfinished() == []


def test_every_crash_point_is_reached_by_a_run(tmp_path):
    """The points are where the Promoter's own steps are: a run that passes meets each once."""
    seen = []

    class Recording(CuttingPromoter):
        def crash(self, point):
            seen.append(point)

    with ThreadPoolExecutor(2) as pool:
        run = asyncio.run(
            promoter(Recording, Store("sqlite://"), FakeGitLab(), pool, tmp_path).run_lane(PROJECT, "main")
        )
    assert run.status == "promoted"
    assert seen == list(CRASH_POINTS)


def test_the_service_makes_the_promoter_its_config_names(tmp_path, monkeypatch):
    import docker

    monkeypatch.setattr(docker, "from_env", lambda **kwargs: NoContainers())
    service = PromotionService(
        settings_json=json.dumps({**json.loads(SETTINGS_JSON), "gitlab_url": "http://gl"}),
        database_url="sqlite://",
        artifacts_dir=str(tmp_path),
    )
    service.initialize(
        ["--PromotionService.promoter_class=tests.mocking.CrashingPromoter", "--CrashingPromoter.crash_at=before:push"]
    )
    try:
        made = service.make_promoter()
        assert type(made) is CrashingPromoter and made.crash_at == "before:push"
        assert made.log is service.log and made.stopping is service.stopping
    finally:
        service.executor.shutdown()
