"""Small pure pieces of the review extension: policy, pairing exclude block, identity, remotes, git errors, workspace plan."""

import json

import pytest
from packaging.utils import canonicalize_name

from jupyterhub_ds import git_command
from jupyterhub_ds.review.gitops import classify, project_path
from jupyterhub_ds.review.identity import identity_from
from jupyterhub_ds.review.packages import distributions_for, is_allowed
from jupyterhub_ds.review.pairing import ensure_pairing, merge_exclude, working_copies
from jupyterhub_ds.review.policy import PolicyError, ReviewPolicy, parse_policy
from jupyterhub_ds.review.workspace import plan

pytestmark = pytest.mark.unit


def test_policy_from_the_spawner_json():
    text = json.dumps(
        {
            "commit_notebooks": True,
            "branch_prefix": "rv",
            "target_branch": "dev",
            "max_file_size": 5,
            "max_submission_size": 9,
            "secret_patterns": ["a+"],
            "allowed_packages": ["numpy"],
        }
    )
    assert parse_policy(text) == ReviewPolicy(True, "rv", "dev", 5, 9, ("a+",), ("numpy",))
    assert parse_policy("") == ReviewPolicy() and parse_policy(None).allowed_packages is None


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{", "is not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"max_file_size": "10M"}', "max_file_size='10M' must be a positive number of bytes"),
        ('{"secret_patterns": ["("]}', "'(' is not a valid regex"),
    ],
)
def test_bad_policy_names_the_key(text, fragment):
    with pytest.raises(PolicyError) as e:
        parse_policy(text)
    assert fragment in str(e.value)


@pytest.mark.parametrize(
    "before, lines, after",
    [
        ("", ["*.ipynb"], "# jupyterhub-ds (managed block, edit above or below)\n*.ipynb\n# end jupyterhub-ds\n"),
        (
            "# git ls-files --others\n*.tmp\n\n",
            ["/jupytext.toml"],
            "# git ls-files --others\n*.tmp\n\n# jupyterhub-ds (managed block, edit above or below)\n/jupytext.toml\n# end jupyterhub-ds\n",
        ),
        (
            "*.tmp\n# jupyterhub-ds (managed block, edit above or below)\n*.ipynb\n# end jupyterhub-ds\nmine\n",
            ["/jupytext.toml"],
            "*.tmp\nmine\n\n# jupyterhub-ds (managed block, edit above or below)\n/jupytext.toml\n# end jupyterhub-ds\n",
        ),
    ],
)
def test_exclude_block_is_replaced_and_other_lines_kept(before, lines, after):
    assert merge_exclude(before, lines) == after
    assert merge_exclude(after, lines) == after  # idempotent


def test_ensure_pairing_writes_config_and_excludes_once(tmp_path):
    (tmp_path / ".git" / "info").mkdir(parents=True)
    assert ensure_pairing(tmp_path) is True
    assert 'formats = "ipynb,py:percent"' in (tmp_path / "jupytext.toml").read_text()
    exclude = (tmp_path / ".git/info/exclude").read_text()
    assert "/jupytext.toml\n*.ipynb\n" in exclude
    assert ensure_pairing(tmp_path) is False
    assert ensure_pairing(tmp_path, commit_notebooks=True) is True
    assert "*.ipynb" not in (tmp_path / ".git/info/exclude").read_text()


def test_a_project_jupytext_config_is_respected(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.jupytext]\nformats = 'ipynb,md'\n")
    ensure_pairing(tmp_path)
    assert not (tmp_path / "jupytext.toml").exists()


def test_working_copies_are_found_under_namespaces(tmp_path):
    for p in ("a/p1", "a/sub/p2", "b/p3/inner"):
        (tmp_path / p / ".git").mkdir(parents=True)
    assert sorted(str(p.relative_to(tmp_path)) for p in working_copies(tmp_path)) == ["a/p1", "a/sub/p2", "b/p3/inner"]


@pytest.mark.parametrize(
    "gitlab_user, expected",
    [
        (
            {"username": "alice", "name": "Alice A", "email": "a@x.org"},
            {"username": "alice", "name": "Alice A", "email": "a@x.org"},
        ),
        (
            {"username": "bob", "name": "Bob", "commit_email": "c@x.org", "email": "e@x.org"},
            {"username": "bob", "name": "Bob", "email": "c@x.org"},
        ),
        ({}, {"username": "hubuser", "name": "hubuser", "email": "hubuser@noreply.gitlab.example.com"}),
    ],
)
def test_identity_from_auth_state(gitlab_user, expected):
    assert identity_from("hubuser", gitlab_user, "https://gitlab.example.com") == expected


@pytest.mark.parametrize(
    "remote, base, path",
    [
        ("http://127.0.0.1:8929/ds/notebooks.git", "http://127.0.0.1:8929", "ds/notebooks"),
        ("https://oauth2:tok@gitlab.example.com/a/b/c.git", "https://gitlab.example.com/", "a/b/c"),
        ("https://gitlab.example.com/gitlab/a/b.git", "https://gitlab.example.com/gitlab", "a/b"),
        ("https://github.com/a/b.git", "https://gitlab.example.com", None),
        ("git@gitlab.example.com:a/b.git", "https://gitlab.example.com", None),
        ("http://127.0.0.1:8929/ds/notebooks.git", "", None),
    ],
)
def test_project_path_from_the_remote(remote, base, path):
    assert project_path(remote, base) == path


def test_credentials_never_reach_messages():
    assert git_command.scrub("https://oauth2:glpat-x@h/a.git") == "https://h/a.git"


@pytest.mark.parametrize(
    "stderr, kind",
    [
        ("! [rejected] x -> x (stale info)\nerror: failed to push", "stale"),
        ("fatal: Authentication failed for 'http://h/a.git/'", "auth"),
        ("fatal: unable to access 'http://h/': Failed to connect to h port 80: Connection refused", "unreachable"),
        ("fatal: unable to access 'http://h/': The requested URL returned error: 502", "unreachable"),
        (
            "remote: GitLab: You are not allowed to push code to protected branches on this project.\n"
            " ! [remote rejected] main -> main (pre-receive hook declined)",
            "rejected",
        ),
        ("fatal: something odd", "other"),
        ("error: RPC failed; HTTP 403 curl 22 The requested URL returned error: 403", "auth"),
        ("fatal: unable to access 'http://127.0.0.1:40317/a.git/': Empty reply from server", "unreachable"),
        (
            "send-pack: unexpected disconnect while reading sideband packet\nfatal: the remote end hung up unexpectedly\n"
            "error: failed to push some refs to 'http://127.0.0.1:44013/a.git'",
            "unreachable",
        ),
    ],
)
def test_git_errors_are_classified(stderr, kind):
    assert classify(stderr) == kind


@pytest.mark.parametrize(
    "module, allowed, ok",
    [
        ("json", set(), True),
        ("sklearn", {"scikit-learn"}, True),
        ("PIL", {"pillow"}, True),
        ("yaml", {"pyyaml"}, True),
        ("yaml", {"numpy"}, False),
        ("numpy", {"numpy"}, True),
        ("Numpy_Extra", {"numpy-extra"}, True),
    ],
)
def test_import_names_map_to_distributions(module, allowed, ok):
    assert is_allowed(module, frozenset(canonicalize_name(a) for a in allowed), installed={}) is ok


def test_installed_distributions_are_asked_for_unknown_names():
    assert "beautifulsoup4" in distributions_for("bs4", installed={})
    assert "my-dist" in distributions_for("mymod", installed={"mymod": ["My_Dist"]})


def test_workspace_plan_refuses_odd_entries():
    statuses, problems = plan(
        [
            {"project": "ds/notebooks", "ref": "main"},
            {"project": "ds/sub/p"},
            {"project": "../etc"},
            {"project": "solo"},
            {"project": "ds/x", "ref": "--upload-pack=x"},
            "nonsense",
        ],
        "projects",
    )
    assert [(s.project, s.ref, s.path) for s in statuses] == [
        ("ds/notebooks", "main", "projects/ds/notebooks"),
        ("ds/sub/p", "", "projects/ds/sub/p"),
    ]
    assert len(problems) == 4 and "'../etc' is not a GitLab project path" in problems[0]
    assert "ref '--upload-pack=x' is not a branch name" in problems[2]


def test_save_hook_remembers_a_notebook_saved_with_its_script(tmp_path):
    from jupyterhub_ds.review.pairing import PairOnSave

    repo = tmp_path / "projects" / "ns" / "p"
    (repo / ".git" / "info").mkdir(parents=True)
    nb, py = repo / "a.ipynb", repo / "a.py"
    hook = PairOnSave(tmp_path)
    nb.write_text("{}")
    hook(os_path=str(nb))  # jupytext saves the notebook first...
    assert (repo / "jupytext.toml").exists() and not hook.in_sync(nb)
    py.write_text("# %%\n")
    hook(os_path=str(py))  # ...then its script
    assert hook.in_sync(nb)
    py.write_text("# %%\nedited = True\n")  # edited by hand afterwards
    assert not hook.in_sync(nb)
    nb.write_text('{"cells": []}')
    hook(os_path=str(nb))
    assert not hook.in_sync(nb)  # the script has not followed yet
    hook(os_path=str(tmp_path.parent / "elsewhere.ipynb"))  # outside the root: ignored


@pytest.mark.parametrize(
    "text, secrets, expected",
    [
        (
            "fatal: unable to access 'https://oauth2:glpat-x@gl/a.git/': 403",
            (),
            "fatal: unable to access 'https://gl/a.git/': 403",
        ),
        ("https://oauth2:p@ss@gl/a.git", (), "https://gl/a.git"),  # an @ in the password
        ("remote: token tok-123 refused\n\nremote: ask an admin\n", ("tok-123",), "token *** refused\nask an admin"),
    ],
)
def test_git_messages_lose_credentials_and_noise(text, secrets, expected):
    assert git_command.message(text, *secrets) == expected


def test_lru_keeps_the_most_recently_used_entries():
    from jupyterhub_ds.review.lru import LRU

    cache = LRU(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # a is now the most recent
    cache["c"] = 3
    assert ("a" in cache, "b" in cache, "c" in cache, len(cache)) == (True, False, True, 2)
    assert cache.pop("a") == 1 and cache.get("a", "gone") == "gone"
