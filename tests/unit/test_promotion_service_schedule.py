"""The service's scheduler step with a fake clock: runs start at cron times, never while paused."""

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_ds.promotion.app import PromotionService
from jupyterhub_ds.promotion.records import Store

pytestmark = pytest.mark.unit


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def config(paused=False, staging_paused=False):
    return {
        "timezone": "Europe/Berlin",
        "paused": paused,
        "database_url": "sqlite://",
        "projects": [
            {
                "path": "ds/churn",
                "image": "img:1",
                "notebooks": ["a.ipynb"],
                "lanes": [
                    {"from": "main", "to": "staging", "schedule": "0 2 * * *", "paused": staging_paused},
                    {"from": "staging", "to": "production", "schedule": "0 6 * * 1"},
                ],
            }
        ],
    }


class RecordingPromoter:
    """Stands in for the Docker/GitLab side: records which lanes the scheduler started."""

    def __init__(self):
        self.started = []

    async def run_lane(self, project, source, trigger, tick):
        self.started.append((project, source, trigger, tick))


async def drive(settings, start, end, step=timedelta(minutes=10)):
    service = PromotionService(settings_json=json.dumps(settings))
    service.store, service.promoter, service._tasks = Store("sqlite://"), RecordingPromoter(), set()
    now = start
    while now <= end:
        service.schedule_once(now)
        now += step
    await asyncio.gather(*service._tasks)
    return service.promoter.started


async def test_runs_start_at_cron_times_in_the_promotion_time_zone():
    started = await drive(config(), utc(2026, 11, 1, 12), utc(2026, 11, 3, 12))
    # 02:00 Berlin is 01:00 UTC in November; 2026-11-02 is a Monday, 06:00 Berlin = 05:00 UTC.
    assert started == [
        ("ds/churn", "main", "schedule", utc(2026, 11, 2, 1)),
        ("ds/churn", "staging", "schedule", utc(2026, 11, 2, 5)),
        ("ds/churn", "main", "schedule", utc(2026, 11, 3, 1)),
    ]


async def test_paused_service_starts_nothing_and_a_paused_lane_is_skipped():
    assert await drive(config(paused=True), utc(2026, 11, 1, 12), utc(2026, 11, 10)) == []
    started = await drive(config(staging_paused=True), utc(2026, 11, 1, 12), utc(2026, 11, 3, 12))
    assert [(s[1], s[3]) for s in started] == [("staging", utc(2026, 11, 2, 5))]


async def test_restart_does_not_refire_a_handled_tick():
    service = PromotionService(settings_json=json.dumps(config()))
    service.store, service.promoter, service._tasks = Store("sqlite://"), RecordingPromoter(), set()
    service.schedule_once(utc(2026, 11, 2, 0, 50))
    assert [d.tick for d in service.schedule_once(utc(2026, 11, 2, 1, 5))] == [utc(2026, 11, 2, 1)]
    assert service.schedule_once(utc(2026, 11, 2, 1, 7)) == []  # same tick, e.g. after a restart
    await asyncio.gather(*service._tasks)
