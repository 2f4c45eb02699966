"""Review-run decisions on tables: which notebooks run, which runs start or are replaced, what
GitLab shows (status and note), and what require_review_run says of a promotion."""

import pytest

from jupyterhub_ds.promotion.review_decisions import (
    NOTE_MARKER,
    already_done,
    code_block,
    code_span,
    gitlab_status,
    is_percent_script,
    note_text,
    notebooks_to_run,
    review_gate,
    review_passed,
    runs_to_start,
    to_cancel,
    verdict,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "changed, percent, limit, run, skipped",
    [
        (["a.ipynb", "README.md", "util.py"], set(), 5, ["a.ipynb"], []),  # a module is no notebook
        (["a.py"], {"a.py"}, 5, ["a.py"], []),  # a py:percent script is
        (["a.py", "a.ipynb"], {"a.py"}, 5, ["a.ipynb"], []),  # a pair runs once
        (["b.ipynb", "a.ipynb", "c/d.py"], {"c/d.py"}, 2, ["a.ipynb", "b.ipynb"], ["c/d.py"]),  # bounded, named
        (["x\ny.ipynb", "../up.ipynb", "-rf.ipynb", "data.csv"], set(), 5, [], []),  # odd names are not run
        ([], set(), 5, [], []),
    ],
)
def test_which_changed_files_are_notebooks_that_run(changed, percent, limit, run, skipped):
    assert notebooks_to_run(changed, percent, limit) == (run, skipped)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("# %%\nprint(1)\n", True),
        ("# ---\n# jupyter:\n# ---\n\n# %% [markdown]\n# Hi\n", True),
        ("def f():\n    return 1\n", False),
        ("x = '# %%'\n", False),
    ],
)
def test_percent_scripts(text, expected):
    assert is_percent_script(text) is expected


@pytest.mark.parametrize(
    "queued, running, concurrency, per_project, started",
    [
        ([("r1", "a"), ("r2", "a"), ("r3", "b")], [], 2, 1, ["r1", "r3"]),  # one per project, FIFO
        ([("r1", "a"), ("r2", "b")], ["c"], 2, 1, ["r1"]),  # the global limit counts what runs
        ([("r1", "a"), ("r2", "a")], [], 4, 2, ["r1", "r2"]),
        ([("r1", "a")], ["a"], 4, 1, []),  # the project is busy: it waits
        ([], [], 2, 1, []),
    ],
)
def test_runs_to_start(queued, running, concurrency, per_project, started):
    assert runs_to_start(queued, running, concurrency, per_project) == started


def rec(run_id, commit, status, **extra):
    return {"run_id": run_id, "commit": commit, "status": status, **extra}


def test_a_newer_commit_replaces_queued_runs_only_and_a_commit_runs_once():
    runs = [rec("r3", "c2", "queued"), rec("r2", "c1", "running"), rec("r1", "c0", "queued")]
    assert to_cancel(runs, "c3") == ["r3", "r1"]  # the running one finishes
    assert to_cancel(runs, "c2") == ["r1"]
    assert already_done(runs, "c2")["run_id"] == "r3"
    finished = [rec("r5", "c5", "failed"), rec("r4", "c5", "canceled")]
    assert already_done(finished, "c5")["run_id"] == "r5"
    assert already_done(finished, "c5", force=True) is None  # an admin asks again
    assert already_done([rec("r4", "c5", "canceled")], "c5") is None


def test_pass_fail_and_the_commit_status():
    ok = [{"path": "a.py", "status": "ok", "duration": 1.0}]
    bad = [{"path": "a.py", "status": "failed", "failed_cell": 3, "error": "ZeroDivisionError: division by zero"}]
    assert review_passed(ok, {"status": "ok"}) and review_passed([], {})
    assert not review_passed(bad, {"status": "ok"}) and not review_passed(ok, {"status": "failed"})
    assert gitlab_status(rec("r", "c", "queued")) == ("pending", "queued for a clean run")
    assert gitlab_status(rec("r", "c", "running"))[0] == "running"
    assert gitlab_status(rec("r", "c", "passed", notebooks=ok)) == ("success", "1 notebook ran in a clean container")
    assert gitlab_status(rec("r", "c", "passed", notebooks=[])) == ("success", "no notebook changed: nothing to run")
    assert gitlab_status(rec("r", "c", "failed", notebooks=bad, error="")) == (
        "failed",
        "a.py cell 3: ZeroDivisionError: division by zero",
    )
    state, description = gitlab_status(rec("r", "c", "failed", error="x" * 500))
    assert state == "failed" and len(description) == 140
    assert gitlab_status(rec("r", "c", "canceled"))[0] == "canceled"


def test_markdown_from_the_notebook_stays_code():
    assert code_span("a`b") == "``a`b``" and code_span("`x`") == "`` `x` ``"
    assert code_span("@all [click](http://evil) <img>") == "`@all [click](http://evil) <img>`"
    # a fence longer than any inside: the quick action /close stays in the code block
    assert code_block("print(1)\n```\n/close\n```") == "````\nprint(1)\n```\n/close\n```\n````"


def test_the_note_names_the_failing_cell_and_error_and_links_the_notebooks():
    run = rec(
        "r1",
        "0123456789abcdef",
        "failed",
        source_branch="review/alice/x",
        image="img:1",
        seed=7,
        notebooks=[
            {"path": "ok.py", "status": "ok", "duration": 2.0, "html": True},
            {
                "path": "bad `x`.py",
                "status": "failed",
                "failed_cell": 2,
                "error": "ValueError: @all",
                "failed_source": "raise ValueError('@all')",
                "html": True,
            },
            {"path": "later.py", "status": "not run", "duration": 0.0},
        ],
        skipped=["more.ipynb"],
        packages={"status": "ok"},
    )
    text = note_text(run, "https://hub/services/promotion/review-runs/r1", lambda i: f"https://hub/r1/nb/{i}")
    assert text.startswith(NOTE_MARKER + "\n### Clean run failed")
    assert "Commit `0123456789ab` of `review/alice/x` in `img:1` (seed 7)" in text
    assert "[run details](https://hub/services/promotion/review-runs/r1)" in text
    assert "- `ok.py`: ok in 2.0 s — [executed notebook](https://hub/r1/nb/0)" in text
    assert "- ``bad `x`.py``: **failed** at cell 2 — [executed notebook](https://hub/r1/nb/1)" in text
    assert "- `later.py`: **not run**\n" in text and "- `more.ipynb`: not run (more changed notebooks" in text
    assert "``bad `x`.py`` cell 2 failed with `ValueError: @all`:\n\n```python\nraise ValueError('@all')\n```" in text
    passed = note_text(rec("r2", "c" * 40, "passed", notebooks=[], packages={}), "u", str)
    assert "### Clean run passed" in passed and "No notebook changed" in passed


def test_require_review_run_names_every_merge_request_without_a_passed_run():
    runs = {
        "s1": [rec("a", "s1", "failed", error="x.py cell 1: boom"), rec("b", "s1", "passed")],
        "s2": [rec("c", "s2", "failed", error="y.py cell 4: KeyError")],
        "s3": [rec("d", "s3", "canceled")],
        "s4": [rec("e", "s4", "running")],
    }
    verdicts = {sha: verdict(r) for sha, r in runs.items()}
    assert verdicts["s1"]["run_id"] == "b" and verdicts["s3"] is None
    assert review_gate([{"iid": 1, "sha": "s1"}], verdicts) == ""
    reason = review_gate(
        [
            {"iid": 1, "sha": "s1"},
            {"iid": 2, "sha": "s2"},
            {"iid": 3, "sha": "s3"},
            {"iid": 4, "sha": "s4"},
            {"iid": 5, "sha": "s5"},
        ],
        verdicts,
    )
    assert "!2 (s2): its review run failed (y.py cell 4: KeyError)" in reason
    assert "!3 (s3) has no review run" in reason and "!5 (s5) has no review run" in reason
    assert "!4 (s4): its review run has not finished yet" in reason and "!1" not in reason
    assert reason.startswith("merged work did not pass its review run (require_review_run)")
    assert review_gate([], {}) == ""
