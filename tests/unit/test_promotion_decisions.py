"""Promotion decisions (pure): which commit, what a resumed run does next, tags, records, packages."""

from datetime import datetime, timedelta, timezone

import pytest

from jupyterhub_ds.promotion import decisions
from jupyterhub_ds.promotion.packages import check_packages, pip_freeze
from jupyterhub_ds.promotion.settings import parse_settings, settings_from_json

pytestmark = pytest.mark.unit

A, B, C = "a" * 40, "b" * 40, "c" * 40


@pytest.mark.parametrize(
    "source_sha, target_sha, ancestor, action, commit, words",
    [
        (B, A, True, "promote", B, "is new for staging"),
        (A, A, True, "skip", None, "already at main's head"),
        (B, None, True, "promote", B, "is new"),
        (B, C, False, "refuse", B, "not be a fast-forward; merge staging into main"),
        (None, A, True, "refuse", None, "source branch 'main' does not exist"),
    ],
)
def test_choose_commit(source_sha, target_sha, ancestor, action, commit, words):
    choice = decisions.choose_commit("main", "staging", source_sha, target_sha, ancestor)
    assert (choice.action, choice.commit) == (action, commit)
    assert words in choice.reason


@pytest.mark.parametrize(
    "phase, gate_ok, remote, ancestor, tag_exists, step",
    [
        ("created", False, None, False, False, "clean_run"),
        ("gating", False, None, False, False, "clean_run"),  # killed during the clean run: run it again
        ("gated", True, A, True, False, "push"),
        ("pushing", True, A, True, False, "push"),  # killed before the push reached GitLab
        ("pushing", True, B, False, False, "tag"),  # killed after the push, before recording it
        ("gated", True, C, False, False, "fail"),  # someone else moved the target meanwhile
        ("gated", False, A, True, False, "fail"),
        ("pushed", True, B, False, False, "tag"),
        ("tagging", True, B, False, False, "tag"),  # killed before the tag was created
        ("tagging", True, B, False, True, "note"),  # killed after: never a second tag
        ("tagged", True, B, False, True, "note"),
        ("noting", True, B, False, True, "note"),
        ("done", True, B, False, True, "finish"),
        ("failed", False, A, False, False, "finish"),
    ],
)
def test_next_step_after_a_crash_in_each_phase(phase, gate_ok, remote, ancestor, tag_exists, step):
    assert decisions.next_step(phase, gate_ok, remote, B, ancestor, tag_exists)[0] == step


def test_next_step_names_the_moved_target():
    step, reason = decisions.next_step("gated", True, C, B, False, False)
    assert step == "fail" and "moved to cccccccccccc" in reason and "nothing was promoted" in reason


def test_unknown_phase_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown promotion phase 'weird'; known: created, gating"):
        decisions.next_step("weird", True, A, B, True, False)


def test_tag_name_is_utc_timestamp_of_the_lane():
    berlin = timezone(timedelta(hours=1))
    assert (
        decisions.tag_name("staging", datetime(2026, 11, 21, 3, 4, 5, tzinfo=berlin))
        == "promote/staging/20261121T020405Z"
    )


def test_tag_message_carries_the_record_and_reads_back():
    record = {
        "run_id": "r1",
        "project": "ds/churn",
        "source": "main",
        "target": "staging",
        "commit": B,
        "image": "img:1",
        "image_digest": "sha256:" + "d" * 64,
        "seed": 42,
        "started_at": "t",
        "notebooks": [{"path": "a.ipynb", "status": "ok", "duration": 1.25}],
        "pip_freeze": "a==1\nb==2",
    }
    message = decisions.tag_message(record)
    assert message.startswith("Promoted main -> staging of ds/churn\ncommit " + B)
    assert "notebook a.ipynb: ok in 1.2s" in message or "notebook a.ipynb: ok in 1.3s" in message
    back = decisions.record_from_tag_message(message)
    assert back["image_digest"] == record["image_digest"] and back["packages"] == 2 and "pip_freeze" not in back
    assert decisions.record_from_tag_message("a lightweight tag") is None


@pytest.mark.parametrize(
    "mr, included",
    [
        ({"merge_commit_sha": B, "sha": C}, True),
        ({"merge_commit_sha": None, "squash_commit_sha": B, "sha": C}, True),
        ({"merge_commit_sha": None, "sha": B}, True),  # fast-forward merge: the head is the commit
        ({"merge_commit_sha": C, "sha": C}, False),
    ],
)
def test_merge_requests_in_the_promoted_range(mr, included):
    assert decisions.merge_request_in_range(mr, {A, B}) is included


def test_clean_run_passes_only_when_every_part_passes():
    ok = [{"path": "a", "status": "ok"}]
    assert decisions.clean_run_passed(ok, {"status": "none"}, {"status": "ok"})
    assert decisions.clean_run_passed(ok, {"status": "ok"}, {"status": "ok"})
    assert not decisions.clean_run_passed([], {"status": "none"}, {"status": "ok"})
    assert not decisions.clean_run_passed(ok, {"status": "failed"}, {"status": "ok"})
    assert not decisions.clean_run_passed(ok, {"status": "none"}, {"status": "failed"})
    failing = [
        {"path": "nb/a.ipynb", "status": "failed", "failed_cell": 4, "error": "KeyError: 'x'"},
        {"path": "nb/b.ipynb", "status": "not run"},
    ]
    assert (
        decisions.first_failure(failing, {"status": "not run"}, {"status": "ok"}) == "nb/a.ipynb cell 4: KeyError: 'x'"
    )
    assert (
        decisions.first_failure(ok, {"status": "failed", "error": "pytest exit 1"}, {"status": "ok"})
        == "project tests: pytest exit 1"
    )


INSTALLED = [
    {"name": "numpy", "version": "2.1.0", "license": "BSD-3-Clause", "classifiers": []},
    {
        "name": "Shady_Lib",
        "version": "1.0",
        "license": "",
        "classifiers": ["License :: OSI Approved :: GNU Affero General Public License v3 (AGPLv3)"],
    },
    {"name": "python-gitlab", "version": "8.6.0", "license_expression": "LGPL-3.0-or-later", "classifiers": []},
]


def test_licence_check_refuses_denied_words_only():
    result = check_packages(INSTALLED, [], allowed=None, denied=("AGPL", "SSPL"))
    assert result["status"] == "failed" and result["count"] == 3
    [problem] = result["problems"]
    assert problem.startswith("Shady_Lib 1.0 is licensed") and "'AGPL'" in problem  # LGPL is not AGPL
    assert check_packages(INSTALLED[:1] + INSTALLED[2:], [], denied=("AGPL",))["status"] == "ok"


def test_allow_list_applies_to_what_notebooks_import():
    imports = [
        {"notebook": "nb/a.ipynb", "module": "numpy", "distribution": "numpy"},
        {"notebook": "nb/a.ipynb", "module": "sklearn", "distribution": "scikit_learn"},
    ]
    assert check_packages([], imports, allowed=["numpy", "Scikit-Learn"])["status"] == "ok"
    result = check_packages([], imports, allowed=["numpy"])
    assert result["problems"] == [
        "nb/a.ipynb imports sklearn (distribution scikit_learn), which is not on the "
        "allow-list; add it to allowed_packages or drop the import"
    ]
    assert check_packages([], imports, allowed=None)["status"] == "ok"


def test_pip_freeze_is_sorted_by_normalised_name():
    assert pip_freeze(INSTALLED) == "numpy==2.1.0\npython-gitlab==8.6.0\nShady_Lib==1.0"


def test_settings_from_the_hub_json():
    raw = {
        "timezone": "Europe/Berlin",
        "paused": True,
        "database_url": "sqlite:///x.sqlite",
        "port": 10102,
        "metrics_enabled": False,
        "projects": [
            {
                "path": "ds/churn",
                "image": "img:1",
                "notebooks": ["a.ipynb"],
                "profile": "large",
                "parameters": {"n": 1},
                "seed": 7,
                "cell_timeout": 30,
                "network": False,
                "limits": {"cpu_limit": 2.0, "mem_limit": 2**31, "pids_limit": None, "gpus": None},
                "lanes": [
                    {"from": "main", "to": "staging", "schedule": "0 2 * * *", "paused": False},
                    {"from": "staging", "to": "production", "schedule": "0 4 * * 1", "paused": True},
                ],
            }
        ],
    }
    s = parse_settings(raw)
    project = s.project("ds/churn")
    assert project.limits == {"cpu_limit": 2.0, "mem_limit": 2**31}
    assert project.lane("staging").target == "production" and project.lane("staging").paused
    assert project.lane_into("staging").source == "main"
    assert [lane.key for lane in s.lanes] == ["ds/churn:main->staging", "ds/churn:staging->production"]
    assert (s.timezone, s.paused, s.metrics_enabled) == ("Europe/Berlin", True, False)
    with pytest.raises(
        LookupError, match="no lane from 'production'; its lanes: main -> staging, staging -> production"
    ):
        project.lane("production")
    with pytest.raises(LookupError, match="configured projects: ds/churn"):
        s.project("ds/other")
    with pytest.raises(ValueError, match="JUPYTERHUB_DS_PROMOTION_CONFIG is not valid JSON"):
        settings_from_json("{nope")
