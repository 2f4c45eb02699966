"""Promotion schedule: lanes fire at their cron times in the promotion time zone (fake clock)."""

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_ds.promotion.scheduler import Lane, due_lanes, latest_tick, next_tick, seconds_until_next

pytestmark = pytest.mark.unit

UTC = timezone.utc
NIGHTLY = Lane("ds/analytics", "main", "staging", "0 2 * * *")
MONDAYS = Lane("ds/analytics", "staging", "production", "0 6 * * 1")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def run_clock(lanes, start, end, step, tz="UTC", paused=False):
    """Drive the pure core like the service does, with a fake clock; return fired (key, tick)."""
    handled = {lane.key: start for lane in lanes}
    fired = []
    now = start
    for _ in range(100_000):  # bounded
        if now > end:
            break
        for d in due_lanes(lanes, handled, now, tz, paused=paused):
            fired.append((d.lane.target, d.tick))
            handled[d.lane.key] = d.tick
        now += step
    return fired


def test_ticks_fire_at_cron_times_over_two_weeks():
    fired = run_clock([NIGHTLY, MONDAYS], utc(2026, 11, 2, 0, 0), utc(2026, 11, 15, 23, 59), timedelta(minutes=7))
    staging = [t for lane, t in fired if lane == "staging"]
    production = [t for lane, t in fired if lane == "production"]
    assert staging == [utc(2026, 11, d, 2, 0) for d in range(2, 16)]
    assert production == [utc(2026, 11, 2, 6, 0), utc(2026, 11, 9, 6, 0)]  # Mondays only


def test_time_zone_keeps_local_wall_clock_across_dst_change():
    # Europe/Berlin leaves summer time on 2026-10-25 at 03:00 CEST: 02:00 local is 00:00 UTC
    # before, 01:00 UTC after; on the day itself 02:00 happens twice and runs once (as cron).
    fired = run_clock([NIGHTLY], utc(2026, 10, 23, 12), utc(2026, 10, 27, 12), timedelta(minutes=5), tz="Europe/Berlin")
    assert [t for _, t in fired] == [
        utc(2026, 10, 24, 0),
        utc(2026, 10, 25, 0),
        utc(2026, 10, 26, 1),
        utc(2026, 10, 27, 1),
    ]


def test_missed_ticks_collapse_into_one_run():
    handled = {NIGHTLY.key: utc(2026, 11, 1, 2, 0)}
    due = due_lanes([NIGHTLY], handled, utc(2026, 11, 8, 9, 0), "UTC")
    assert [(d.lane.key, d.tick) for d in due] == [(NIGHTLY.key, utc(2026, 11, 8, 2, 0))]


def test_tick_exactly_now_is_due_and_not_twice():
    handled = {NIGHTLY.key: utc(2026, 11, 1, 2, 0)}
    due = due_lanes([NIGHTLY], handled, utc(2026, 11, 2, 2, 0), "UTC")
    assert [d.tick for d in due] == [utc(2026, 11, 2, 2, 0)]
    handled[NIGHTLY.key] = due[0].tick
    assert due_lanes([NIGHTLY], handled, utc(2026, 11, 2, 2, 30), "UTC") == []


def test_pause_all_and_pause_one_lane():
    assert run_clock([NIGHTLY], utc(2026, 11, 2), utc(2026, 11, 5), timedelta(minutes=10), paused=True) == []
    paused_lane = Lane("ds/analytics", "main", "staging", "0 2 * * *", paused=True)
    assert run_clock([paused_lane, MONDAYS], utc(2026, 11, 2), utc(2026, 11, 3), timedelta(minutes=10)) == [
        ("production", utc(2026, 11, 2, 6, 0))
    ]


def test_new_lane_does_not_fire_immediately():
    assert due_lanes([NIGHTLY], {}, utc(2026, 11, 2, 3, 0), "UTC") == []


def test_sleep_until_next_tick_is_capped():
    now = utc(2026, 11, 2, 1, 0)
    assert seconds_until_next([NIGHTLY], now, "UTC") == 3600
    assert seconds_until_next([NIGHTLY], utc(2026, 11, 2, 1, 59, 30), "UTC") == 30
    assert seconds_until_next([NIGHTLY], now, "UTC", paused=True) == 3600
    assert next_tick("0 2 * * *", now, "UTC") == utc(2026, 11, 2, 2, 0)
    assert latest_tick("0 2 * * *", now, "UTC") == utc(2026, 11, 1, 2, 0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive datetime"):
        latest_tick("0 2 * * *", datetime(2026, 11, 2), "UTC")
