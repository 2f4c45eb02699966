"""The service reads exactly what the hub's admin config hands it (env JSON of apply_promotion)."""

import json
import sys
from pathlib import Path

import pytest

from jupyterhub_ds.config.apply import PROMOTION_COMMAND, PROMOTION_CONFIG_ENV, PROMOTION_SERVICE
from jupyterhub_ds.config.loader import load_config
from jupyterhub_ds.promotion.app import PromotionService
from jupyterhub_ds.promotion.settings import CONFIG_ENV, settings_from_json

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "hub_config" / "jupyterhub_ds.yaml"
SECRETS = {
    "GITLAB_CLIENT_SECRET": "s",
    "JUPYTERHUB_CRYPT_KEY": "0" * 64,
    "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN": "glpat-service-token",
}


def test_example_admin_yaml_gives_the_service_its_lanes_limits_and_token():
    c = load_config(str(EXAMPLE), SECRETS)
    [service] = [s for s in c.JupyterHub.services if s["name"] == PROMOTION_SERVICE]
    assert service["command"] == PROMOTION_COMMAND == [sys.executable, "-m", "jupyterhub_ds.promotion"]
    assert CONFIG_ENV == PROMOTION_CONFIG_ENV
    settings = settings_from_json(service["environment"][CONFIG_ENV])
    project = settings.project("data-science/churn-model")
    assert [(lane.source, lane.target, lane.schedule) for lane in project.lanes] == [
        ("main", "staging", "0 2 * * *"),
        ("staging", "production", "0 4 * * 1"),
    ]
    assert project.notebooks == ("notebooks/prepare.ipynb", "notebooks/train.ipynb")
    assert (project.seed, project.cell_timeout, project.network, project.parameters) == (
        42,
        600,
        False,
        {"sample": 0.1},
    )
    assert project.limits["cpu_limit"] > 0 and project.limits["mem_limit"] > 2**30  # the "large" profile's
    assert (project.review_runs, project.require_review_run) == (True, False)
    assert settings.timezone == "Europe/Berlin"

    app = PromotionService(settings_json=service["environment"][CONFIG_ENV], gitlab_url="https://gitlab.example.com")
    assert app.settings == settings and app.database_url == "sqlite:///jupyterhub_ds_promotion.sqlite"
    assert service["environment"]["JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN"] == "glpat-service-token"


def test_missing_settings_name_the_variable(monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ValueError, match="set JUPYTERHUB_DS_PROMOTION_CONFIG"):
        _ = PromotionService().settings_json


def test_missing_gitlab_url_names_the_fix(monkeypatch):
    for var in ("JUPYTERHUB_DS_PROMOTION_GITLAB_URL", "GITLAB_URL"):
        monkeypatch.delenv(var, raising=False)
    app = PromotionService(settings_json=json.dumps({"projects": []}))
    with pytest.raises(ValueError, match="set env JUPYTERHUB_DS_PROMOTION_GITLAB_URL"):
        _ = app.gitlab_url
    monkeypatch.setenv("GITLAB_URL", "https://gitlab.example.com/")
    assert PromotionService(settings_json=json.dumps({"projects": []})).gitlab_url == "https://gitlab.example.com"
