"""Promotion checks: time zone, cron schedules, pinned images, profile references, lanes, review runs."""

import zoneinfo

from croniter import croniter

from .problems import Problem, show
from .schema import closest
from .semantic import unknown_profile_message


def check_timezone(config):
    tz = config["promotion"]["timezone"]
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        guess = closest(tz, sorted(zoneinfo.available_timezones()))
        hint = f"did you mean {guess!r}?" if guess else "use an IANA name like Europe/Berlin or UTC"
        return [Problem(("promotion", "timezone"), f"{show(tz)} is not a known time zone; {hint}")]
    return []


def _image_pinned(image):
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] != "latest"


def _chain_problems(lanes, here):
    """Lanes must form one chain a -> b -> c: no branch leaves twice, none is fed twice,
    no loop, one connected path."""
    problems = []
    leaves, fed = {}, {}
    for k, lane in enumerate(lanes):
        lane_path = here + ("lanes", k)
        if lane["from"] == lane["to"]:
            problems.append(
                Problem(lane_path + ("to",), f"lane promotes {lane['from']!r} to itself; name another branch")
            )
            continue
        if lane["from"] in leaves:
            problems.append(
                Problem(
                    lane_path + ("from",),
                    f"{lane['from']!r} is already promoted by lanes[{leaves[lane['from']]}]; one lane per source branch",
                )
            )
            continue
        if lane["to"] in fed:
            problems.append(
                Problem(
                    lane_path + ("to",),
                    f"{lane['to']!r} is already the target of lanes[{fed[lane['to']]}]; one lane per target branch",
                )
            )
            continue
        leaves[lane["from"]], fed[lane["to"]] = k, k
    if problems:
        return problems
    nxt = {lane["from"]: lane["to"] for lane in lanes}
    starts = [b for b in nxt if b not in fed]
    if not starts:
        loop = [lanes[0]["from"]]
        while nxt[loop[-1]] != loop[0]:
            loop.append(nxt[loop[-1]])
        return [
            Problem(
                here + ("lanes",),
                f"lanes form a cycle {' -> '.join(loop + [loop[0]])}; the last branch must not feed the first",
            )
        ]
    chains = []
    for start in starts:
        chain = [start]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        chains.append(" -> ".join(chain))
    covered = sum(chain.count(" -> ") for chain in chains)
    if len(chains) > 1 or covered != len(lanes):
        return [
            Problem(
                here + ("lanes",),
                f"lanes do not form one chain ({'; '.join(chains)}); each lane's from must be the previous lane's to",
            )
        ]
    return []


def check_promotion(config):
    promotion = config["promotion"]
    slugs = [p["slug"] for p in config["profiles"]]
    problems = []
    first = {}
    for i, project in enumerate(promotion["projects"]):
        here = ("promotion", "projects", i)
        if project["path"] in first:
            problems.append(
                Problem(
                    here + ("path",),
                    f"duplicate project {show(project['path'])} (also promotion.projects[{first[project['path']]}]); list each project once",
                )
            )
        else:
            first[project["path"]] = i
        if not _image_pinned(project["image"]):
            problems.append(
                Problem(
                    here + ("image",),
                    f"{show(project['image'])} is not pinned; use a fixed tag or a digest like jupyterhub-ds/singleuser:1.0@sha256:<digest>",
                )
            )
        if project["profile"] is not None and project["profile"] not in slugs:
            problems.append(Problem(here + ("profile",), unknown_profile_message(project["profile"], slugs)))
        if project["require_review_run"] and not project["review_runs"]:
            problems.append(
                Problem(
                    here + ("require_review_run",),
                    "needs review_runs: true (it promotes only work "
                    "whose review run passed); turn review_runs on, or require_review_run off",
                )
            )
        for k, lane in enumerate(project["lanes"]):
            expr = lane["schedule"]
            if len(expr.split()) != 5 or not croniter.is_valid(expr):
                problems.append(
                    Problem(
                        here + ("lanes", k, "schedule"),
                        f"{show(expr)} is not a cron expression like '0 2 * * *' (minute hour day month weekday)",
                    )
                )
        problems.extend(_chain_problems(project["lanes"], here))
    return problems
