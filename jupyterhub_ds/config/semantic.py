"""Checks the JSON Schema cannot express, as pure functions over the defaults-filled config.

Each check names the sections it reads; the loader skips a check when the schema already
found a problem in one of them (so checks may trust the shapes the schema guarantees).
Promotion checks (cron, time zone, lanes) live in ``semantic_promotion``.
"""

import re

from ..sizes import parse_size
from .problems import Problem, format_path, show
from .schema import closest


def _where(path):
    return format_path(path)


def check_profiles(config):
    problems = []
    first_slug = {}
    first_default = None
    for i, profile in enumerate(config["profiles"]):
        here = ("profiles", i)
        slug = profile["slug"]
        if slug in first_slug:
            problems.append(
                Problem(
                    here + ("slug",),
                    f"duplicate slug {slug!r} (also profiles[{first_slug[slug]}]); give each profile its own slug",
                )
            )
        else:
            first_slug[slug] = i
        if profile["default"]:
            if first_default is None:
                first_default = i
            else:
                problems.append(
                    Problem(
                        here + ("default",),
                        f"profiles[{first_default}] is already the default; only one profile may have default: true",
                    )
                )
        if "image" in profile and "images" in profile:
            problems.append(
                Problem(here, "has both image and images; use image: for one image or images: for a choice")
            )
        cpu_l, cpu_g = profile["cpu_limit"], profile["cpu_guarantee"]
        if cpu_l is not None and cpu_g is not None and cpu_g > cpu_l:
            problems.append(
                Problem(
                    here + ("cpu_guarantee",),
                    f"{show(cpu_g)} is more than cpu_limit {show(cpu_l)}; lower it to at most {show(cpu_l)}",
                )
            )
        mem_l, mem_g = profile["mem_limit"], profile["mem_guarantee"]
        if mem_l is not None and mem_g is not None and parse_size(mem_g) > parse_size(mem_l):
            problems.append(
                Problem(
                    here + ("mem_guarantee",),
                    f"{show(mem_g)} is more than mem_limit {show(mem_l)}; lower it to at most {show(mem_l)}",
                )
            )
    return problems


def check_profile_images(config):
    allowed = config["images"]["allowed"]
    if not allowed:
        return []
    problems = []
    if config["images"]["default"] not in allowed:
        problems.append(
            Problem(
                ("images", "default"), f"{show(config['images']['default'])} is not in images.allowed; add it there"
            )
        )
    for i, profile in enumerate(config["profiles"]):
        if "image" in profile:
            named = [(("profiles", i, "image"), profile["image"])]
        else:
            named = [(("profiles", i, "images", k), img) for k, img in enumerate(profile.get("images", []))]
        for path, image in named:
            if image not in allowed:
                problems.append(
                    Problem(
                        path,
                        f"{show(image)} is not in images.allowed; add it there or use one of: {', '.join(allowed)}",
                    )
                )
    return problems


def check_auth(config):
    auth = config["auth"]
    if auth["allow_all"] and (auth["allowed_groups"] or auth["allowed_project_ids"]):
        return [
            Problem(
                ("auth", "allow_all"),
                "true lets every GitLab user in, so allowed_groups/allowed_project_ids have no effect; remove one of them",
            )
        ]
    if not (auth["allow_all"] or auth["allowed_groups"] or auth["allowed_project_ids"]):
        return [
            Problem(
                ("auth",),
                "nobody may log in; set auth.allowed_groups, auth.allowed_project_ids or auth.allow_all: true",
            )
        ]
    return []


def _path(entry):
    return entry if isinstance(entry, str) else entry["group"]


def _related(a, b):
    """Group ``a`` is ``b``, inside it, or contains it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def check_group_references(config):
    """Groups named on profiles and workspace projects must be able to log in at all."""
    auth = config["auth"]
    if auth["allow_all"] or auth["allowed_project_ids"] or not auth["allowed_groups"]:
        return []  # membership cannot be decided from the file
    known = [_path(g) for g in list(auth["allowed_groups"]) + list(auth["admin_groups"])]
    places = [(("profiles", i, "allowed_groups"), p["allowed_groups"]) for i, p in enumerate(config["profiles"])]
    places += [
        (("workspace", "projects", i, "groups"), p["groups"]) for i, p in enumerate(config["workspace"]["projects"])
    ]
    problems = []
    for path, groups in places:
        for k, group in enumerate(groups):
            if not any(_related(_path(group), g) for g in known):
                problems.append(
                    Problem(
                        path + (k,),
                        f"group {_path(group)!r} is not in auth.allowed_groups or auth.admin_groups (nor a subgroup "
                        f"or parent of one), so its members cannot log in; add it to auth.allowed_groups",
                    )
                )
    return problems


def check_group_sync(config):
    """Profiles, admin rights and workspace projects are granted through hub groups."""
    auth = config["auth"]
    uses = (
        auth["admin_groups"]
        or any(p["allowed_groups"] for p in config["profiles"])
        or any(p["groups"] for p in config["workspace"]["projects"])
    )
    if not auth["manage_groups"] and uses:
        return [
            Problem(
                ("auth", "manage_groups"),
                "false, but admin_groups, profiles or workspace projects name GitLab "
                "groups, which are granted through the hub groups it keeps; set it to true",
            )
        ]
    return []


def check_gitlab_scopes(config):
    """The hub reads the user's groups through the API; servers push and open merge requests."""
    scopes = set(config["gitlab"]["scopes"])
    if not scopes & {"api", "read_api"}:
        return [
            Problem(
                ("gitlab", "scopes"),
                "has neither api nor read_api; the hub needs one of them to read a user's "
                "GitLab groups at login (api also lets servers open merge requests); add api",
            )
        ]
    return []


def check_mount_targets(config):
    """Two mounts on the same container path would hide one another."""
    volumes = config["volumes"]
    shared_used = {volumes["home_mount"]: "volumes.home_mount"}
    problems = []

    def claim(used, target, path):
        if target in used:
            problems.append(
                Problem(path, f"{show(target)} is already mounted by {used[target]}; mount it on another path")
            )
        else:
            used[target] = _where(path[:-1])

    for i, mount in enumerate(volumes["shared"]):
        claim(shared_used, mount["target"].rstrip("/") or "/", ("volumes", "shared", i, "target"))
    for i, profile in enumerate(config["profiles"]):
        used = dict(shared_used)
        for k, mount in enumerate(profile["volumes"]):
            claim(used, mount["target"].rstrip("/") or "/", ("profiles", i, "volumes", k, "target"))
    return problems


def check_review(config):
    review = config["review"]
    problems = []
    for i, pattern in enumerate(review["secret_patterns"]):
        try:
            re.compile(pattern)
        except re.error as err:
            problems.append(
                Problem(
                    ("review", "secret_patterns", i),
                    f"{show(pattern)} is not a valid regular expression ({err.msg} at position {err.pos}); fix the pattern",
                )
            )
    if parse_size(review["max_file_size"]) > parse_size(review["max_submission_size"]):
        problems.append(
            Problem(
                ("review", "max_file_size"),
                f"{show(review['max_file_size'])} is more than max_submission_size {show(review['max_submission_size'])}; lower it",
            )
        )
    return problems


def check_workspace(config):
    problems = []
    first = {}
    for i, project in enumerate(config["workspace"]["projects"]):
        if project["path"] in first:
            problems.append(
                Problem(
                    ("workspace", "projects", i, "path"),
                    f"duplicate project {show(project['path'])} (also workspace.projects[{first[project['path']]}]); list each project once and give it all its groups",
                )
            )
        else:
            first[project["path"]] = i
    return problems


def check_hub(config):
    hub = config["hub"]
    path = hub["public_url"].split("://", 1)[1].partition("/")[2]
    path = "/" + path if path else "/"
    if not path.endswith("/"):
        path += "/"
    if path not in ("/", hub["base_url"]):
        return [
            Problem(
                ("hub", "public_url"),
                f"path {path!r} does not match hub.base_url {hub['base_url']!r}; make them the same",
            )
        ]
    return []


def unknown_profile_message(slug, slugs):
    message = f"unknown profile {slug!r}; known profiles: {', '.join(slugs)}"
    guess = closest(slug, slugs)
    return message + (f"; did you mean {guess!r}?" if guess else "")


def check_subdomain_host(config):
    """Users' servers live at <user>.<host of subdomain_host>; the hub stays at public_url."""
    hub = config["hub"]
    if not hub["subdomain_host"]:
        return []
    if hub["single_origin_reason"]:
        return [
            Problem(
                ("hub", "single_origin_reason"),
                "is given, but subdomain_host puts every server on its own "
                "origin; remove single_origin_reason (or subdomain_host)",
            )
        ]
    public = hub["public_url"].split("://", 1)
    origin = public[0] + "://" + public[1].split("/", 1)[0]
    if hub["subdomain_host"].rstrip("/") != origin:
        return [
            Problem(
                ("hub", "subdomain_host"),
                f"{show(hub['subdomain_host'])} is not the origin of hub.public_url ({origin}); set it to {origin!r}",
            )
        ]
    return []


def check_swarm(config):
    """``spawner.kind: swarm``: every hardening setting a Swarm service cannot carry is refused
    here with the reason and the fix (the full table: jupyterhub_ds.spawner.service.SWARM_PARITY,
    docs/scale-out.md). With ``kind: docker``, the Swarm-only keys are refused instead of being
    silently unused."""
    problems = []
    if config["spawner"]["kind"] != "swarm":
        if config["network"]["encrypted"]:
            problems.append(
                Problem(
                    ("network", "encrypted"),
                    "true, but only Swarm overlay networks are encrypted; remove it or set spawner.kind: swarm",
                )
            )
        for i, profile in enumerate(config["profiles"]):
            if profile["placement"]:
                problems.append(
                    Problem(
                        ("profiles", i, "placement"),
                        "placement constraints need spawner.kind: swarm "
                        "(one Docker engine has one node); remove them or set spawner.kind: swarm",
                    )
                )
        return problems
    hardening = config["hardening"]
    if not hardening["allow_swap"]:
        problems.append(
            Problem(
                ("hardening", "allow_swap"),
                "false cannot hold on Swarm: a service cannot set a "
                "memory+swap limit, and the engine gives each task as much swap as its memory limit; "
                "turn swap off on the nodes (swapoff -a, and in /etc/fstab), then set allow_swap: true",
            )
        )
    if hardening["runtime"]:
        problems.append(
            Problem(
                ("hardening", "runtime"),
                f"{show(hardening['runtime'])}: a Swarm service cannot choose "
                'an OCI runtime; set "default-runtime" in every node\'s daemon.json and remove '
                "hardening.runtime",
            )
        )
    if not config["network"]["containers_can_talk"]:
        problems.append(
            Problem(
                ("network", "containers_can_talk"),
                "false cannot hold on Swarm: an overlay network "
                "has no switch for inter-container traffic, so servers on it can reach each other "
                "(each still needs its owner's JupyterHub token); set containers_can_talk: true",
            )
        )
    if not config["spawner"]["remove_on_stop"]:
        problems.append(
            Problem(
                ("spawner", "remove_on_stop"),
                "false cannot hold on Swarm: the service of a stopped "
                "server is always removed (the home volume stays on its node); remove the key",
            )
        )
    pull = config["spawner"]["pull_policy"]
    if pull in ("always", "never"):
        problems.append(
            Problem(
                ("spawner", "pull_policy"),
                f"{show(pull)} cannot be enforced on Swarm: each node's "
                "engine pulls the service's image when a task starts there and lacks it; use "
                "ifnotpresent (or skip), and preload or mirror the image for air-gapped nodes",
            )
        )
    for i, profile in enumerate(config["profiles"]):
        if profile["gpus"] == -1:
            problems.append(
                Problem(
                    ("profiles", i, "gpus"),
                    "-1 (all GPUs) cannot be reserved on Swarm, which "
                    "reserves GPUs by count only; give the number of GPUs",
                )
            )
    return problems
