"""When promotion lanes are due: a pure core over cron schedules and a clock.

A lane (``main -> staging`` at ``0 2 * * *``) is due at every cron time of its schedule,
read in the promotion time zone (so 02:00 stays 02:00 across daylight-saving changes). The
service keeps, per lane, the last cron time it handled; ``due_lanes`` tells which lanes have
a cron time in ``(last_handled, now]`` and what that time is. Missed ticks (service down for
a week) collapse into one run: promotion always takes the newest commit anyway.

Everything here takes ``now`` explicitly, so tests drive it with a fake clock.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter


@dataclass(frozen=True)
class Lane:
    project: str
    source: str
    target: str
    schedule: str
    paused: bool = False

    @property
    def key(self):
        return f"{self.project}:{self.source}->{self.target}"


@dataclass(frozen=True)
class Due:
    lane: Lane
    tick: datetime  # the cron time (aware, UTC) this run answers


def _aware_utc(dt):
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: pass an aware datetime (UTC)")
    return dt.astimezone(timezone.utc)


def _wall_clock(dt, tz):
    """Local wall-clock time without offset: when summer time ends, the repeated hour
    (02:00 CEST, then 02:00 CET) is one tick, as with cron, not two."""
    return _aware_utc(dt).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def latest_tick(schedule, now, tz):
    """The newest cron time of ``schedule`` at or before ``now`` (aware UTC), in zone ``tz``."""
    local_now = _aware_utc(now).astimezone(ZoneInfo(tz))
    # croniter's get_prev is strictly before its start; start a second past now so that a
    # tick exactly at ``now`` counts as due.
    start = local_now.replace(microsecond=0) + timedelta(seconds=1)
    return croniter(schedule, start).get_prev(datetime).astimezone(timezone.utc)


def next_tick(schedule, now, tz):
    """The first cron time strictly after ``now`` (aware UTC)."""
    local_now = _aware_utc(now).astimezone(ZoneInfo(tz))
    return croniter(schedule, local_now).get_next(datetime).astimezone(timezone.utc)


def due_lanes(lanes, last_handled, now, tz, paused=False):
    """Lanes with a cron time in ``(last_handled[lane.key], now]``.

    ``last_handled`` maps lane keys to the last tick handled (aware UTC). A lane with no
    entry is not due: the service records ``now`` when it first sees a lane, so adding a
    lane does not fire it at once. Paused lanes (or all, when ``paused``) are never due.
    """
    if paused:
        return []
    due = []
    for lane in lanes:
        if lane.paused:
            continue
        tick = latest_tick(lane.schedule, now, tz)
        last = last_handled.get(lane.key)
        if last is not None and _wall_clock(tick, tz) > _wall_clock(last, tz):
            due.append(Due(lane=lane, tick=tick))
    return due


def seconds_until_next(lanes, now, tz, paused=False, cap=3600):
    """How long the service may sleep before the next lane could be due (at most ``cap``)."""
    if paused:
        return cap
    waits = [(next_tick(lane.schedule, now, tz) - _aware_utc(now)).total_seconds() for lane in lanes if not lane.paused]
    return max(0.0, min([cap, *waits]))
