"""require_review_run: a lane promotes merged work only when its merge requests' head commits
passed their review runs (the service's own records), and never gives a clean run to what
already failed. In process: the Promoter with an in-memory GitLab (as test_promotion_resume)."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from jupyterhub_ds.promotion.records import ReviewRun, Store, utcnow
from jupyterhub_ds.promotion.settings import settings_from_json
from tests.unit.test_promotion_resume import PROJECT, SETTINGS_JSON, CleanPromoter, FakeGitLab, NoContainers

pytestmark = pytest.mark.unit


class MergedGitLab(FakeGitLab):
    async def merged_requests(self, target_branch=None):
        return [{"iid": 7, "merge_commit_sha": "c2", "sha": "h7"}]


class CountingPromoter(CleanPromoter):
    clean_runs = 0

    def clean_run(self, job, source_tar):
        type(self).clean_runs += 1
        return super().clean_run(job, source_tar)


def settings(**project):
    raw = json.loads(SETTINGS_JSON)
    raw["projects"][0].update(project)
    return settings_from_json(json.dumps(raw))


def review(store, status, run_id, error=""):
    store.add(
        ReviewRun(id=run_id, project=PROJECT, mr_iid=7, commit="h7", status=status, queued_at=utcnow(), error=error)
    )


async def test_a_lane_waits_for_a_passed_review_run_of_every_merged_request(tmp_path):
    store, gitlab = Store("sqlite://"), MergedGitLab()
    CountingPromoter.clean_runs = 0
    with ThreadPoolExecutor(2) as pool:
        promoter = CountingPromoter(
            settings(require_review_run=True), store, NoContainers(), lambda p: gitlab, tmp_path, executor=pool
        )
        refused = await promoter.run_lane(PROJECT, "main")
        assert (refused.status, refused.phase) == ("failed", "failed")
        assert "!7 (h7) has no review run" in refused.error and CountingPromoter.clean_runs == 0

        review(store, "failed", "v1", error="plot.py cell 3: ZeroDivisionError: division by zero")
        refused = await promoter.run_lane(PROJECT, "main")
        assert "!7 (h7): its review run failed (plot.py cell 3: ZeroDivisionError" in refused.error
        assert CountingPromoter.clean_runs == 0 and gitlab.pushes == []  # what failed is not run again

        review(store, "passed", "v2")
        promoted = await promoter.run_lane(PROJECT, "main")
        assert promoted.status == "promoted" and gitlab.pushes == [("staging", "c2")]
        assert CountingPromoter.clean_runs == 1
    assert store.unfinished() == []


async def test_without_the_option_review_runs_do_not_matter(tmp_path):
    store, gitlab = Store("sqlite://"), MergedGitLab()
    review(store, "failed", "v1", error="boom")
    with ThreadPoolExecutor(2) as pool:
        promoter = CleanPromoter(settings(), store, NoContainers(), lambda p: gitlab, tmp_path, executor=pool)
        assert (await promoter.run_lane(PROJECT, "main")).status == "promoted"
