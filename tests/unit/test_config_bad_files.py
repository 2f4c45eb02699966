"""Every bad admin YAML in config_cases/bad/ is refused with exactly the lines in its
neighbouring .expected file ({file} stands for the path as given), through the pure API,
through load_config (what the hub runs), and for a sample through the real CLI."""

import subprocess
import sys
from pathlib import Path

import pytest

from jupyterhub_ds.config import AdminConfigError, check_file, load_config

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).parent / "config_cases" / "bad"
CASES = sorted(BAD.glob("*.yaml"))
CLI = ROOT / ".venv" / "bin" / "jupyterhub-ds"
GOOD_ENV = {
    "GITLAB_CLIENT_SECRET": "x",
    "JUPYTERHUB_CRYPT_KEY": "00" * 32,
    "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN": "t",
    "JUPYTERHUB_DB_PASSWORD": "p",
}


def expected_lines(case, name):
    text = case.with_suffix(".expected").read_text(encoding="utf-8")
    return [line.replace("{file}", name) for line in text.splitlines() if line]


def test_the_table_is_big_enough():
    assert len(CASES) >= 30
    assert all(case.with_suffix(".expected").exists() for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_check_file_reports_exactly(case):
    lines, config = check_file(case)
    assert lines == expected_lines(case, str(case))
    assert config is None


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_load_config_raises_with_the_same_lines(case):
    with pytest.raises(AdminConfigError) as info:
        load_config(case, GOOD_ENV)
    assert info.value.lines == expected_lines(case, str(case))


CLI_SAMPLE = [
    "mem_limit_not_a_size",
    "profile_unknown_key",
    "client_secret_in_yaml",
    "many_problems",
    "lanes_cycle",
    "yaml_syntax_error",
]


@pytest.mark.parametrize("stem", CLI_SAMPLE)
def test_cli_exits_1_and_prints_every_problem(stem):
    rel = f"tests/unit/config_cases/bad/{stem}.yaml"
    proc = subprocess.run([str(CLI), "check-config", rel], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines() == expected_lines(BAD / f"{stem}.yaml", rel)


def test_cli_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    proc = subprocess.run([str(CLI), "check-config", str(missing)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.strip() == f"{missing}: no such file; give the path of the admin YAML"


def test_cli_directory_is_a_clear_error(tmp_path):
    proc = subprocess.run([str(CLI), "check-config", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.strip() == f"{tmp_path}: is a directory; give the path of the admin YAML file"


def test_cli_env_flag_names_missing_variables():
    rel = "hub_config/demo.yaml"
    env = {
        k: v for k, v in __import__("os").environ.items() if k not in ("GITLAB_CLIENT_SECRET", "JUPYTERHUB_CRYPT_KEY")
    }
    env["JUPYTERHUB_CRYPT_KEY"] = "00" * 32
    proc = subprocess.run(
        [str(CLI), "check-config", rel, "--env"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "hub_config/demo.yaml: env GITLAB_CLIENT_SECRET: not set; export GITLAB_CLIENT_SECRET "
        "(the secret of the GitLab OAuth application gitlab.client_id)",
        "hub_config/demo.yaml: env JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN: not set; export "
        "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN (a GitLab token with api scope that the promotion service pushes with)",
    ]


def test_python_module_entry_is_the_same_cli():
    """`python -m jupyterhub_ds check-config` behaves like the console script."""
    rel = "tests/unit/config_cases/bad/spawner_kind_typo.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "jupyterhub_ds", "check-config", rel],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == expected_lines(BAD / "spawner_kind_typo.yaml", rel)
