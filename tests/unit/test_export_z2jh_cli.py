"""``jupyterhub-ds export z2jh``: what an admin sees on the terminal and in the values file."""

from pathlib import Path

import pytest
import yaml

from jupyterhub_ds.cli import main
from jupyterhub_ds.config.loader import check_file
from jupyterhub_ds.export.z2jh import export

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "hub_config" / "demo.yaml"


def test_an_invalid_admin_yaml_is_refused_with_check_configs_lines(tmp_path, capsys):
    admin = tmp_path / "admin.yaml"
    admin.write_text(DEMO.read_text(encoding="utf-8").replace("  client_id:", "  client_idd:"), encoding="utf-8")
    out = tmp_path / "values.yaml"
    assert main(["export", "z2jh", str(admin), "-o", str(out)]) == 1
    printed = capsys.readouterr()
    lines, _ = check_file(admin)
    assert lines and printed.out.splitlines() == lines
    assert "nothing exported" in printed.err
    assert not out.exists()


def test_what_does_not_carry_over_is_printed_and_listed_atop_the_values(tmp_path, capsys):
    out = tmp_path / "values.yaml"
    assert main(["export", "z2jh", str(DEMO), "-o", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    reports = [line for line in err if line.startswith(f"{DEMO}:")]
    # file:line: yaml path: what; fix -- as check-config prints problems
    line = next(n for n, text in enumerate(Path(DEMO).read_text().splitlines(), 1) if "pull_policy:" in text)
    assert f"{DEMO}:{line}: spawner.pull_policy: 'never' has no Kubernetes equivalent" in "\n".join(reports)
    text = out.read_text(encoding="utf-8")
    header = [line[4:] for line in text.splitlines() if line.startswith("#   ")]
    assert reports and all(line in header for line in reports)
    assert err[-1].endswith(f"{len(reports)} setting(s) not carried over")
    _, config = check_file(DEMO)
    assert yaml.safe_load(text) == export(config, base_dir=DEMO.parent)[0]


def test_secrets_are_referenced_by_name_and_never_written(tmp_path, monkeypatch, capsys):
    admin = tmp_path / "admin.yaml"
    admin.write_text(
        DEMO.read_text(encoding="utf-8")
        .replace("db_url: sqlite:///jupyterhub.sqlite", "db_url: postgresql://hub@db.example.com/jupyterhub")
        .replace("../images/scipy/requirements.lock", str(REPO / "images/scipy/requirements.lock")),
        encoding="utf-8",
    )
    secret_values = {
        "GITLAB_CLIENT_SECRET": "gitlab-client-secret-value",
        "JUPYTERHUB_CRYPT_KEY": "ab" * 32,
        "JUPYTERHUB_DB_PASSWORD": "db-password-value",
    }
    for name, value in secret_values.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "values.yaml"
    assert main(["export", "z2jh", str(admin), "-o", str(out), "--secret-name", "hub-secrets"]) == 0
    text = out.read_text(encoding="utf-8")
    printed = capsys.readouterr()
    assert not [name for name, value in secret_values.items() if value in text + printed.out + printed.err]
    hub = yaml.safe_load(text)["hub"]
    assert hub["existingSecret"] == "hub-secrets"
    assert hub["extraEnv"]["GITLAB_CLIENT_SECRET"] == {
        "valueFrom": {"secretKeyRef": {"name": "hub-secrets", "key": "GITLAB_CLIENT_SECRET"}}
    }
    assert hub["db"] == {"type": "postgres", "url": "postgresql://hub@db.example.com/jupyterhub"}
    # the header says which keys the Secret needs
    for key in ("GITLAB_CLIENT_SECRET", "hub.config.CryptKeeper.keys", "hub.db.password"):
        assert any(line.startswith(f"#   {key} ") for line in text.splitlines()), key
