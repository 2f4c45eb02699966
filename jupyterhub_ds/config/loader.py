"""Validate the whole admin YAML, then translate it; nothing is applied half-way.

``check_file`` collects every problem (syntax, schema, secrets, semantic, and with
``env`` the missing environment variables) as printable lines; ``load_config`` raises
one ``AdminConfigError`` carrying those lines or returns the complete ``Config``.
"""

import os

from packaging.utils import canonicalize_name
from traitlets.config import Config

from ..image_inputs import lock_packages
from ..packages.policy import policy_from_config
from . import apply as A
from . import secrets, semantic, semantic_packages, semantic_promotion
from .problems import Problem, format_problem, sort_key
from .schema import SCHEMA, schema_problems, with_defaults
from .source import ConfigSourceError, read_source
from .unsafe import unsafe_choices

# (check, sections it reads): a check runs only when the schema found nothing wrong there
SEMANTIC_CHECKS = [
    (semantic.check_profiles, ("profiles",)),
    (semantic.check_profile_images, ("profiles", "images")),
    (semantic.check_auth, ("auth",)),
    (semantic.check_group_references, ("auth", "profiles", "workspace")),
    (semantic.check_group_sync, ("auth", "profiles", "workspace")),
    (semantic.check_gitlab_scopes, ("gitlab",)),
    (semantic.check_mount_targets, ("volumes", "profiles")),
    (semantic.check_review, ("review",)),
    (semantic.check_workspace, ("workspace",)),
    (semantic.check_hub, ("hub",)),
    (semantic.check_subdomain_host, ("hub",)),
    (semantic.check_swarm, ("spawner", "hardening", "network", "profiles")),
    (semantic_promotion.check_timezone, ("promotion",)),
    (semantic_promotion.check_promotion, ("promotion", "profiles")),
    (semantic_packages.check_packages, ("packages",)),
]


class AdminConfigError(Exception):
    """The admin YAML cannot be used. ``lines`` holds one printable line per problem."""

    def __init__(self, lines):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


def _section(problem):
    """The top-level section a schema problem is in ("*": the whole file is unusable)."""
    if problem.path:
        return problem.path[0]
    return problem.line_path[0] if problem.line_path else "*"  # an unknown top-level key


def lock_path(config, base_dir):
    """The review's allowed_packages_lock as a path (relative ones from the YAML's folder), or None."""
    given = config["review"]["allowed_packages_lock"]
    return None if given is None else os.path.join(base_dir or ".", given)


def audit_path(config, base_dir):
    """``audit.path`` as an absolute path (relative ones from the YAML's folder), or None."""
    given = config["audit"]["path"]
    return None if not given else os.path.abspath(os.path.join(base_dir or ".", given))


def package_policy(config, base_dir):
    """The packages: section as a PackagePolicy (the allowed lock read, paths made absolute)."""
    return policy_from_config(config, base_dir)


def allowed_packages(config, base_dir):
    """What notebooks may import (the review gate and the promotion clean run): the review
    section's names and lock file's; with both null, the names packages: allows; else None."""
    listed, lock = config["review"]["allowed_packages"], lock_path(config, base_dir)
    if listed is None and lock is None:
        return package_policy(config, base_dir).allowed_names
    names = list(listed or ())
    return names + [n for n in (lock_packages(lock) if lock else ()) if n not in names]


def _lock_problems(config, base_dir):
    lock = lock_path(config, base_dir)
    if lock is None:
        return []
    try:
        lock_packages(lock)
    except OSError as e:
        return [
            Problem(
                ("review", "allowed_packages_lock"),
                f"cannot read {lock} ({e.strerror}); give the path of a "
                "lock file (relative to this file's folder), e.g. images/scipy/requirements.lock",
            )
        ]
    except ValueError as e:
        return [Problem(("review", "allowed_packages_lock"), f"{e}")]
    return []


def _packages_problems(config, base_dir):
    """What packages: names on disk (the lock, the advisories), and review.allowed_packages
    naming a package no image may hold under it."""
    section, base = config["packages"], base_dir or "."
    problems = []
    if section["allowed_lock"] is not None:
        lock = os.path.join(base, section["allowed_lock"])
        try:
            lock_packages(lock)
        except OSError as e:
            problems.append(
                Problem(
                    ("packages", "allowed_lock"),
                    f"cannot read {section['allowed_lock']!r} "
                    f"({e.strerror}); give the path of a lock file (relative to this file's folder), "
                    "e.g. ../images/scipy/requirements.lock",
                )
            )
        except ValueError as e:
            problems.append(Problem(("packages", "allowed_lock"), f"{e}"))
    database = section["vulnerability_database"]
    if database is not None and not os.path.exists(os.path.join(base, database)):
        problems.append(
            Problem(
                ("packages", "vulnerability_database"),
                f"{database!r} does not exist (relative paths "
                "are taken from this file's folder); unpack osv.dev's PyPI all.zip there (or give the "
                ".zip), or set it to null",
            )
        )
    if problems:
        return problems
    allowed = package_policy(config, base_dir).allowed
    for i, name in enumerate(config["review"]["allowed_packages"] or ()):
        if allowed is not None and canonicalize_name(name) not in allowed:
            problems.append(
                Problem(
                    ("review", "allowed_packages", i),
                    f"{name!r} is not allowed by packages.allowed or "
                    "packages.allowed_lock, so no image that passes the package check holds it; allow "
                    "it there or remove it here",
                )
            )
    return problems


def _problems(source, env, base_dir=None):
    data = source.data
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        return (
            [],
            f"{source.name}:1: (top level): the file is {what}; it must be a mapping with at least gitlab: and profiles:",
        )
    problems = list(source.problems)
    problems += secrets.yaml_secret_problems(data)
    found = schema_problems(data, secrets.is_secret_key)
    problems += found
    broken = {_section(p) for p in found} | {k for k in SCHEMA.get("required", []) if k not in data}
    config = with_defaults(data)
    if "*" not in broken:
        for check, sections in SEMANTIC_CHECKS:
            if not broken.intersection(sections):
                problems += check(config)
        if "review" not in broken:
            problems += _lock_problems(config, base_dir)
        if not broken.intersection(("packages", "review")) and not any(p.path[:1] == ("packages",) for p in problems):
            problems += _packages_problems(config, base_dir)
        if env is not None and not broken.intersection(("hub", "promotion")):
            problems += secrets.missing_env_problems(config, env)
    return problems, None


def check_file(path, env=None, name=None):
    """``(lines, config)``: every problem as a printable line (empty if the file is fine) and
    the defaults-filled config (None when unusable). ``env``: also check the environment."""
    try:
        source = read_source(path, name)
    except ConfigSourceError as err:
        return [str(err)], None
    problems, fatal = _problems(source, env, os.path.dirname(os.path.abspath(path)))
    if fatal:
        return [fatal], None
    problems = sorted(set(problems), key=lambda p: sort_key(p, source.lines))
    lines = [format_problem(p, source.name, source.lines) for p in problems]
    return lines, (None if lines else with_defaults(source.data))


def unsafe_lines(path, config, name=None):
    """The unsafe choices of a valid file, one printable line each (``file:line: path: unsafe: …``)."""
    source = read_source(path, name)
    problems = sorted(unsafe_choices(config), key=lambda p: sort_key(p, source.lines))
    return [format_problem(p, source.name, source.lines) for p in problems]


def build_config(config, env, base_dir=None):
    """Translate a valid, defaults-filled config; ``env`` supplies the secrets, ``base_dir`` (the
    admin YAML's folder) anchors relative file paths in it."""
    c = Config()
    packages = allowed_packages(config, base_dir)
    policy = package_policy(config, base_dir)
    A.apply_hub(config["hub"], c, db_password=env.get(secrets.JUPYTERHUB_DB_PASSWORD))
    A.apply_gitlab(
        config["gitlab"],
        c,
        client_secret=env.get(secrets.GITLAB_CLIENT_SECRET),
        callback_url=A.oauth_callback_url(config["gitlab"], config["hub"]),
    )
    A.apply_auth(config["auth"], c)
    A.apply_images(config["images"], c)
    A.apply_profiles(config["profiles"], c, default_image=config["images"]["default"])
    A.apply_volumes(config["volumes"], c)
    A.apply_network(config["network"], c)
    A.apply_hardening(config["hardening"], c)
    A.apply_spawner(config["spawner"], c)
    A.apply_workspace(config["workspace"], c)
    A.apply_review(config["review"], c, allowed_packages=packages)
    A.apply_promotion(
        config["promotion"],
        c,
        profiles=c.ProfileSpawnerMixin.profiles,
        metrics_enabled=config["metrics"]["enabled"],
        metrics_require_auth=config["metrics"]["require_auth"],
        gitlab_url=config["gitlab"]["url"],
        allowed_packages=packages,
        gitlab_token=env.get(secrets.PROMOTION_GITLAB_TOKEN),
        db_password=env.get(secrets.PROMOTION_DB_PASSWORD),
        audit_path=audit_path(config, base_dir),
        package_policy=policy.to_json(),
    )
    A.apply_metrics(config["metrics"], c)
    A.apply_audit(config["audit"], c, path=audit_path(config, base_dir))
    A.apply_group_rules(config, c)
    return c


def load_config(path, env, name=None):
    """The traitlets ``Config`` for the admin YAML at ``path``; the environment ``env`` must
    hold the secrets. Raises ``AdminConfigError`` listing every problem."""
    lines, config = check_file(path, env=env, name=name)
    if lines:
        raise AdminConfigError(lines)
    return build_config(config, env, os.path.dirname(os.path.abspath(path)))
