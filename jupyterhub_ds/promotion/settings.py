"""The promotion settings the hub hands the service: plain data, parsed once.

The hub's admin config (``jupyterhub_ds.config.apply.promotion_settings``) puts the validated
``promotion:`` section, with each project's profile limits resolved, as JSON into the env
variable ``JUPYTERHUB_DS_PROMOTION_CONFIG``. The service never reads the admin YAML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..packages.policy import PackagePolicy
from .scheduler import Lane

CONFIG_ENV = "JUPYTERHUB_DS_PROMOTION_CONFIG"


@dataclass(frozen=True)
class Project:
    path: str
    image: str
    notebooks: tuple[str, ...]
    lanes: tuple[Lane, ...]
    parameters: dict = field(default_factory=dict)
    seed: int = 0
    cell_timeout: int = 600
    network: bool = False
    limits: dict = field(default_factory=dict)
    volumes: tuple = ()  # ({"source", "target"}, ...) mounted read-only into every run
    review_runs: bool = True  # merge requests get a clean run of the notebooks they change
    require_review_run: bool = False  # promote only merged work whose review run passed
    # Distribution names allowed to be installed in the image (None: no allow-list check) and
    # licence words refused in installed distributions' metadata (None: the service default).
    allowed_packages: tuple[str, ...] | None = None
    denied_licenses: tuple[str, ...] | None = None
    # The admin YAML's packages: policy the run's image must meet (None: the default licence
    # check only): the check `jupyterhub-ds packages check` makes, with the same messages.
    package_policy: PackagePolicy | None = None

    def lane(self, source, target=None):
        """The lane leaving ``source`` (and reaching ``target`` if given), or LookupError."""
        for lane in self.lanes:
            if lane.source == source and (target is None or lane.target == target):
                return lane
        known = ", ".join(f"{lane.source} -> {lane.target}" for lane in self.lanes)
        raise LookupError(f"project {self.path} has no lane from {source!r}; its lanes: {known}")

    def lane_into(self, target):
        for lane in self.lanes:
            if lane.target == target:
                return lane
        raise LookupError(f"project {self.path} has no lane into {target!r}")


@dataclass(frozen=True)
class Settings:
    projects: tuple[Project, ...]
    timezone: str = "UTC"
    paused: bool = False
    database_url: str = "sqlite:///jupyterhub_ds_promotion.sqlite"
    port: int = 10101
    metrics_enabled: bool = True
    metrics_require_auth: bool = True

    def project(self, path):
        for project in self.projects:
            if project.path == path:
                return project
        known = ", ".join(p.path for p in self.projects) or "none"
        raise LookupError(f"no promotion project {path!r}; configured projects: {known}")

    @property
    def lanes(self):
        return [lane for project in self.projects for lane in project.lanes]


def _optional_tuple(value):
    return None if value is None else tuple(value)


def parse_project(raw):
    lanes = tuple(
        Lane(raw["path"], lane["from"], lane["to"], lane["schedule"], bool(lane.get("paused", False)))
        for lane in raw["lanes"]
    )
    return Project(
        path=raw["path"],
        image=raw["image"],
        notebooks=tuple(raw["notebooks"]),
        lanes=lanes,
        parameters=dict(raw.get("parameters") or {}),
        seed=int(raw.get("seed", 0)),
        cell_timeout=int(raw.get("cell_timeout", 600)),
        network=bool(raw.get("network", False)),
        review_runs=bool(raw.get("review_runs", True)),
        require_review_run=bool(raw.get("require_review_run", False)),
        volumes=tuple({"source": v["source"], "target": v["target"]} for v in raw.get("volumes") or ()),
        limits={k: v for k, v in (raw.get("limits") or {}).items() if v is not None},
        allowed_packages=_optional_tuple(raw.get("allowed_packages")),
        denied_licenses=_optional_tuple(raw.get("denied_licenses")),
        package_policy=PackagePolicy.from_json(raw["package_policy"]) if raw.get("package_policy") else None,
    )


def parse_settings(raw):
    """Settings from the dict the hub wrote (already validated by check-config)."""
    if not isinstance(raw, dict) or "projects" not in raw:
        raise ValueError(
            f"promotion settings must be an object with 'projects' (got {type(raw).__name__}); "
            "the hub writes them from the admin YAML's promotion: section"
        )
    return Settings(
        projects=tuple(parse_project(p) for p in raw["projects"]),
        timezone=raw.get("timezone", "UTC"),
        paused=bool(raw.get("paused", False)),
        database_url=raw.get("database_url", Settings.database_url),
        port=int(raw.get("port", 10101)),
        metrics_enabled=bool(raw.get("metrics_enabled", True)),
        metrics_require_auth=bool(raw.get("metrics_require_auth", True)),
    )


def settings_from_json(text, where=CONFIG_ENV):
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is not valid JSON ({e}); it is written by the hub from the admin YAML") from e
    return parse_settings(raw)
