"""Commit plan: review branch names, slugs, files per policy, messages (pure)."""

import json

import pytest

from jupyterhub_ds.review.commit_plan import (
    branch_name,
    commit_message,
    notebook_slug,
    plan_commit,
    slugify,
    strip_outputs,
)
from jupyterhub_ds.review.policy import ReviewPolicy

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "path, slug",
    [
        ("eda.ipynb", "eda"),
        ("notebooks/EDA v2.ipynb", "notebooks-eda-v2"),
        ("a/b/c/Über Analyse (final).ipynb", "a-b-c-uber-analyse-final"),
        ("x..y/..z.ipynb", "x.y-z"),
        ("weird/ -- name --.ipynb", "weird-name"),
        ("data.lock.ipynb", "data-lock"),
        ("日本語.ipynb", None),
    ],
)
def test_notebook_slug_keeps_safe_characters(path, slug):
    result = notebook_slug(path)
    if slug is None:  # nothing ASCII left: a hash keeps it unique and valid
        assert len(result) == 8 and all(c in "0123456789abcdef" for c in result)
    else:
        assert result == slug


def test_long_slugs_are_cut_and_stay_apart():
    a = notebook_slug("analysis/" + "very-long-name-" * 10 + "a.ipynb")
    b = notebook_slug("analysis/" + "very-long-name-" * 10 + "b.ipynb")
    assert a != b and len(a) <= 60 and len(b) <= 60 and a.startswith("analysis-very-long-name")


@pytest.mark.parametrize(
    "prefix, user, path, branch",
    [
        ("review", "alice", "analysis/eda.ipynb", "review/alice/analysis-eda"),
        ("review/", "Alice.Smith@corp", "eda.ipynb", "review/alice_2esmith_40corp/eda"),
        ("team/reviews", "bob", "x.ipynb", "team/reviews/bob/x"),
        ("", "bob", "x.ipynb", "review/bob/x"),
    ],
)
def test_branch_name_is_prefix_user_slug(prefix, user, path, branch):
    assert branch_name(ReviewPolicy(branch_prefix=prefix), user, path) == branch


def test_review_branches_of_look_alike_users_never_collide():
    users = ["alice", "alice_", "_alice", "alice-", "alice..", "alice.", "alice_2e", "Alice", "a.lice", "a_2elice"]
    branches = {branch_name(ReviewPolicy(), u, "eda.ipynb") for u in users}
    # Alice and alice are one GitLab user (usernames are unique regardless of case)
    assert len(branches) == len(users) - 1
    for branch in branches:
        component = branch.split("/")[1]
        assert ".." not in component and not component.startswith((".", "-")) and not component.endswith((".", ".lock"))


@pytest.mark.parametrize("text", ["a b", "-x-", "..", "a.lock", "x" * 200, "ünïcødé", "a/b", "@{", "a\\b"])
def test_slugs_are_valid_git_ref_components(text):
    slug = slugify(text)
    assert slug and not slug.startswith((".", "-")) and not slug.endswith((".", ".lock", "-"))
    assert ".." not in slug and all(c.isalnum() or c in ".-" for c in slug) and slug.isascii()


NB = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {"execution": {"x": 1}, "tags": ["keep"]},
            "source": "1+1",
            "outputs": [
                {"output_type": "execute_result", "data": {"text/plain": "2"}, "metadata": {}, "execution_count": 3}
            ],
            "execution_count": 3,
        },
        {"cell_type": "markdown", "metadata": {}, "source": "# t"},
    ],
    "metadata": {"widgets": {"state": {}}, "kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 4,
}


def test_strip_outputs_keeps_sources_and_tags_and_leaves_the_original_alone():
    clean = strip_outputs(NB)
    assert clean["cells"][0]["outputs"] == [] and clean["cells"][0]["execution_count"] is None
    assert clean["cells"][0]["metadata"] == {"tags": ["keep"]} and "widgets" not in clean["metadata"]
    assert clean["cells"][1] == NB["cells"][1]
    assert NB["cells"][0]["outputs"] and NB["cells"][0]["execution_count"] == 3


@pytest.mark.parametrize(
    "commit_notebooks, strip, files",
    [
        (False, True, ["analysis/eda.py"]),
        (True, True, ["analysis/eda.ipynb", "analysis/eda.py"]),
    ],
)
def test_plan_commits_the_script_and_with_the_option_the_stripped_notebook(commit_notebooks, strip, files):
    plan = plan_commit(
        policy=ReviewPolicy(commit_notebooks=commit_notebooks),
        user="alice",
        notebook_path="analysis/eda.ipynb",
        notebook=NB,
        script_path="analysis/eda.py",
        script=b"# %%\n1+1\n",
        title="  Churn   EDA ",
        description="Why: churn is up.",
    )
    assert sorted(plan.files) == files and plan.branch == "review/alice/analysis-eda" and plan.target_branch == "main"
    assert plan.title == "Churn EDA"
    assert (
        plan.message == "Churn EDA\n\nWhy: churn is up.\n\nSubmitted for review from JupyterLab: analysis/eda.ipynb\n"
    )
    if commit_notebooks:
        assert json.loads(plan.files["analysis/eda.ipynb"])["cells"][0]["outputs"] == []


def test_plan_without_stripping_keeps_outputs_for_the_gate_to_refuse():
    plan = plan_commit(
        policy=ReviewPolicy(commit_notebooks=True),
        user="a",
        notebook_path="n.ipynb",
        notebook=NB,
        script_path="n.py",
        script=b"",
        title="t",
        strip=False,
    )
    assert json.loads(plan.files["n.ipynb"])["cells"][0]["outputs"]


@pytest.mark.parametrize(
    "title, description, message",
    [
        ("", "", "Review x.ipynb\n\nSubmitted for review from JupyterLab: x.ipynb\n"),
        ("Fix\nnewline", "", "Fix newline\n\nSubmitted for review from JupyterLab: x.ipynb\n"),
        ("<b>t</b>", "  d  ", "<b>t</b>\n\nd\n\nSubmitted for review from JupyterLab: x.ipynb\n"),
    ],
)
def test_commit_message(title, description, message):
    assert commit_message(title, description, "x.ipynb") == message


def test_target_branch_from_request_beats_policy():
    plan = plan_commit(
        policy=ReviewPolicy(target_branch="develop"),
        user="a",
        notebook_path="n.ipynb",
        notebook=NB,
        script_path="n.py",
        script=b"",
        title="t",
        target_branch="release",
    )
    assert plan.target_branch == "release"
    assert (
        plan_commit(
            policy=ReviewPolicy(target_branch="develop"),
            user="a",
            notebook_path="n.ipynb",
            notebook=NB,
            script_path="n.py",
            script=b"",
            title="t",
        ).target_branch
        == "develop"
    )
