"""Pre-submit gates: each refuses with a message naming file, cell and fix, and passes clean work."""

import json

import jupytext
import pytest

from jupyterhub_ds.review.gates import (
    Submission,
    gate_no_outputs,
    gate_packages,
    gate_paired,
    gate_secrets,
    gate_size,
    gate_syntax,
    human_size,
    run_gates,
)
from jupyterhub_ds.review.policy import ReviewPolicy

pytestmark = pytest.mark.unit

NB_PATH, PY_PATH = "analysis/eda.ipynb", "analysis/eda.py"


def nb(*cells, outputs=None):
    out = []
    for i, (kind, src) in enumerate(cells):
        c = {"cell_type": kind, "metadata": {}, "source": src}
        if kind == "code":
            c.update(outputs=(outputs or {}).get(i, []), execution_count=None)
        out.append(c)
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}


def script_of(notebook):
    return jupytext.writes(jupytext.reads(json.dumps(notebook), fmt="ipynb"), fmt="py:percent")


def submission(notebook, script="same", policy=None, files=None, size=None, local=frozenset()):
    script = script_of(notebook) if script == "same" else script
    files = files if files is not None else ({PY_PATH: script.encode()} if script is not None else {})
    return Submission(
        NB_PATH,
        notebook,
        size if size is not None else len(json.dumps(notebook)),
        PY_PATH,
        script,
        files,
        policy or ReviewPolicy(),
        local,
    )


CLEAN = nb(("markdown", "# Title"), ("code", "import pandas as pd\nx = 1"), ("code", "print(x)"))


def test_clean_notebook_passes_every_gate():
    results = run_gates(submission(CLEAN, policy=ReviewPolicy(allowed_packages=("pandas",))))
    assert [(r.gate, r.ok, r.messages) for r in results] == [
        (g, True, []) for g in ("paired", "no_outputs", "secrets", "size", "syntax", "packages")
    ]


@pytest.mark.parametrize(
    "script, expected",
    [
        (
            None,
            "analysis/eda.ipynb is not paired: analysis/eda.py is missing; save the notebook in JupyterLab "
            "(the pairing writes eda.py), then submit again",
        ),
        (
            "# %% [markdown]\n# # Title\n\n# %%\nimport pandas as pd\nx = 2\n\n# %%\nprint(x)\n",
            "analysis/eda.ipynb cell 2 differs from analysis/eda.py; save the notebook in JupyterLab so the pairing "
            "rewrites eda.py (or reopen eda.ipynb if you edited eda.py), then submit again",
        ),
        (
            "# %% [markdown]\n# # Title\n\n# %%\nimport pandas as pd\nx = 1\n",
            "analysis/eda.ipynb has 3 cells but analysis/eda.py has 2; save the notebook in JupyterLab so the pairing "
            "rewrites eda.py (or reopen eda.ipynb if you edited eda.py), then submit again",
        ),
    ],
)
def test_paired_gate_names_the_first_cell_out_of_sync(script, expected):
    assert gate_paired(submission(CLEAN, script=script)).messages == [expected]


def test_paired_gate_ignores_the_header_and_blank_lines_jupytext_may_write_differently():
    text = (
        "# ---\n# jupyter:\n#   jupytext:\n#     formats: ipynb,py:percent\n#     text_representation:\n"
        "#       format_version: '1.3'\n#       jupytext_version: 1.0.0\n# ---\n\n"
        "# %% [markdown]\n# # Title\n\n# %%\nimport pandas as pd\nx = 1\n\n\n# %%\nprint(x)\n"
    )
    assert gate_paired(submission(CLEAN, script=text)).ok


def test_no_outputs_gate_lists_cells_with_outputs_in_committed_notebooks_only():
    with_out = nb(("code", "1"), ("code", "2"), outputs={0: [{"output_type": "stream", "name": "stdout", "text": "1"}]})
    committed = {NB_PATH: json.dumps(with_out).encode(), PY_PATH: b"# %%\n1\n"}
    assert gate_no_outputs(submission(with_out, files=committed)).messages == [
        "analysis/eda.ipynb cell 1: outputs would be committed; clear them (Edit > Clear Outputs of All Cells), "
        "save, then submit again"
    ]
    assert gate_no_outputs(submission(with_out)).ok  # default policy: only the script is committed


OUT = lambda text: [{"output_type": "stream", "name": "stdout", "text": text}]  # noqa: E731


@pytest.mark.parametrize(
    "cells, outputs, policy, expected",
    [
        (
            [("code", "t = 'glpat-" + "a" * 20 + "'")],
            None,
            None,
            [
                "analysis/eda.ipynb cell 1: code contains what looks like a GitLab token (glpat-…); remove it (read secrets "
                "from a file outside the project or an environment variable), then submit again"
            ],
        ),
        (
            [("code", "print(t)")],
            {0: OUT("ghp_" + "A1" * 18)},
            None,
            [
                "analysis/eda.ipynb cell 1: output contains what looks like a GitHub token (ghp_…); clear the output and "
                "remove the token from the code, then submit again"
            ],
        ),
        (
            [("markdown", "x"), ("code", "k")],
            {
                1: [
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": {"text/plain": "'AKIAABCDEFGHIJKLMNOP'"},
                    }
                ]
            },
            None,
            [
                "analysis/eda.ipynb cell 2: output contains what looks like an AWS access key (AKIA…); clear the output and "
                "remove the token from the code, then submit again"
            ],
        ),
        (
            [("code", "key = '''-----BEGIN OPENSSH PRIVATE KEY-----\nabc'''")],
            None,
            None,
            [
                "analysis/eda.ipynb cell 1: code contains what looks like a private key (-----BEGIN … PRIVATE KEY-----); "
                "remove it (read secrets from a file outside the project or an environment variable), then submit again"
            ],
        ),
        (
            [("code", "pw = 'corp-secret-123456'")],
            None,
            ReviewPolicy(secret_patterns=(r"corp-secret-\d{6}",)),
            [
                "analysis/eda.ipynb cell 1: code contains what looks like a secret (matches the admin's pattern #1) (…); "
                "remove it (read secrets from a file outside the project or an environment variable), then submit again"
            ],
        ),
        ([("code", "x = 'glpat-short'")], None, None, []),
        (
            [("code", "plot()")],
            {
                0: [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": "AKIAABCDEFGHIJKLMNOP", "text/plain": "<Figure>"},
                    }
                ]
            },
            None,
            [],
        ),
    ],
)
def test_secrets_gate_scans_sources_and_outputs_without_echoing_the_secret(cells, outputs, policy, expected):
    result = gate_secrets(submission(nb(*cells, outputs=outputs), policy=policy))
    assert result.messages == expected
    assert not any("a" * 20 in m or "A1A1" in m or "123456" in m for m in result.messages)


def test_secrets_gate_rescans_what_changed_and_remembers_per_admin_pattern_set():
    cells = [("code", f"x{i} = {i}") for i in range(20)]
    assert gate_secrets(submission(nb(*cells))).ok
    cells[7] = ("code", "t = 'glpat-" + "c" * 20 + "'")  # one cell edited after a clean check
    assert [m.split(":")[0] for m in gate_secrets(submission(nb(*cells))).messages] == ["analysis/eda.ipynb cell 8"]
    cells[7] = ("code", "x7 = 'corp-secret-654321'")
    assert gate_secrets(submission(nb(*cells))).ok  # not a built-in pattern...
    policy = ReviewPolicy(secret_patterns=(r"corp-secret-\d{6}",))
    assert not gate_secrets(submission(nb(*cells), policy=policy)).ok  # ...but the admin's: same text, new verdict


def test_secrets_gate_reports_a_secret_only_in_the_script_with_its_line_and_cell():
    script = "# %%\nx = 1\n\n# %%\ntoken = 'github_pat_" + "b" * 30 + "'\n"
    msgs = gate_secrets(submission(nb(("code", "x = 1"), ("code", "token = None")), script=script)).messages
    assert msgs == [
        "analysis/eda.py line 5 (cell 2): contains what looks like a GitHub token (github_pat_…); "
        "remove it, save, then submit again"
    ]


def test_size_gate_names_the_notebook_the_heavy_cell_and_the_submission():
    big = nb(("code", "x"), ("code", "y"), outputs={1: OUT("z" * 5000)})
    policy = ReviewPolicy(max_file_size=2000, max_submission_size=3000)
    files = {PY_PATH: b"a" * 2500, "data.csv": b"b" * 1000}
    assert gate_size(submission(big, policy=policy, files=files, size=6000)).messages == [
        "analysis/eda.ipynb is 5.9 KB, above the limit of 2.0 KB per file (cell 2 holds 4.9 KB of output); "
        "clear large outputs, save, then submit again",
        "analysis/eda.py is 2.4 KB, above the limit of 2.0 KB per file; move data out of the code (load it from "
        "the shared data folder), then submit again",
        "this submission is 3.4 KB, above the limit of 2.9 KB; split the work or move data out of the notebook, "
        "then submit again",
    ]


@pytest.mark.parametrize(
    "n, text", [(10, "10 bytes"), (2048, "2.0 KB"), (200 * 1024 * 1024, "200.0 MB"), (3 * 1024**3, "3.0 GB")]
)
def test_human_size(n, text):
    assert human_size(n) == text


@pytest.mark.parametrize(
    "script, expected",
    [
        ("# %%\nx = 1\n\n# %%\ndef f(:\n    pass\n", "analysis/eda.py line 5 (cell 2 of eda.ipynb): invalid syntax;"),
        (
            "# ---\n# jupyter:\n# ---\n\n# %% [markdown]\n# # t\n\n# %%\nprint('a'\n",
            "analysis/eda.py line 9 (cell 2 of eda.ipynb): '(' was never closed;",
        ),
        ("x = (\n", "analysis/eda.py line 1: '(' was never closed;"),  # before any cell marker
        (script_of(nb(("code", "%matplotlib inline\nx = 1"))), None),  # jupytext comments magics out
        ("# %%\nimport asyncio\nawait asyncio.sleep(0)\n", None),  # top-level await runs in a notebook
        ("# %%\nx = 1\n\n# %%\nreturn x\n", "analysis/eda.py line 5 (cell 2 of eda.ipynb): 'return' outside function;"),
        ("# %%\nprint('\x00')\n", "analysis/eda.py: source code string cannot contain null bytes;"),
        # rules across cells: each cell compiles on its own, the script does not (or the other way round)
        (
            "# %%\nx = 1\n\n# %%\nfrom __future__ import annotations\n",
            "analysis/eda.py line 5 (cell 2 of eda.ipynb): from __future__ imports must occur at the beginning of the file;",
        ),
        ('# %%\ntext = """\n# %%\nnot code\n"""\n', None),  # a marker inside a string: one cell for Python
    ],
)
def test_syntax_gate_maps_the_error_line_to_the_cell(script, expected):
    result = gate_syntax(submission(CLEAN, script=script))
    assert gate_syntax(submission(CLEAN, script=script)) == result  # the same verdict when remembered
    if expected is None:
        assert result.ok
    else:
        assert len(result.messages) == 1 and result.messages[0].startswith(expected), result.messages


ALLOWED = ReviewPolicy(allowed_packages=("numpy", "pandas", "scikit-learn", "PyYAML"))


@pytest.mark.parametrize(
    "code, local, expected",
    [
        ("import os, sys, json\nfrom collections import Counter", frozenset(), []),
        ("import numpy as np\nimport sklearn.linear_model\nfrom yaml import safe_load", frozenset(), []),
        ("import helpers\nfrom .sibling import x", frozenset({"helpers"}), []),
        (
            "import requests",
            frozenset(),
            [
                "analysis/eda.ipynb cell 2: imports 'requests', which is not on the allowed "
                "package list (PyYAML, numpy, pandas, scikit-learn); use an allowed package or "
                "ask an admin to add requests, then submit again"
            ],
        ),
        (
            "from PIL import Image",
            frozenset(),
            [
                "analysis/eda.ipynb cell 2: imports 'PIL' (package pillow), which is not "
                "on the allowed package list (PyYAML, numpy, pandas, scikit-learn); use an "
                "allowed package or ask an admin to add pillow, then submit again"
            ],
        ),
    ],
)
def test_packages_gate_allows_stdlib_local_and_listed_distributions(code, local, expected):
    s = submission(nb(("markdown", "# t"), ("code", code)), policy=ALLOWED, local=local)
    assert gate_packages(s).messages == expected


def test_packages_gate_is_off_without_an_allow_list():
    assert gate_packages(submission(nb(("code", "import anything_at_all")))).ok


def test_a_notebook_far_over_the_limit_is_not_read_and_the_size_gate_says_what_to_do():
    from jupyterhub_ds.review.gates import oversized_notebook, too_big_to_read

    policy = ReviewPolicy(max_file_size=10 * 1024 * 1024)
    assert not too_big_to_read(60 * 1024 * 1024, policy) and too_big_to_read(200 * 1024 * 1024, policy)
    results = oversized_notebook(NB_PATH, 200 * 1024 * 1024, policy)
    assert [(r.gate, r.ok) for r in results] == [
        ("paired", True),
        ("no_outputs", True),
        ("secrets", True),
        ("size", False),
        ("syntax", True),
        ("packages", True),
    ]
    assert results[3].messages == [
        "analysis/eda.ipynb is 200.0 MB, above the limit of 10.0 MB per file; clear large "
        "outputs (Edit > Clear Outputs of All Cells), save, then submit again"
    ]


@pytest.mark.parametrize(
    "script, pieces",
    [
        ("", []),
        ("x = 1\n", ["x = 1\n"]),
        (
            "# ---\n# jupyter: {}\n# ---\n\n# %%\na = 1\n\n# %% [markdown]\n# # T\n",
            ["# ---\n# jupyter: {}\n# ---\n\n", "# %%\na = 1\n\n", "# %% [markdown]\n# # T\n"],
        ),
        ("# %%\nno newline at the end", ["# %%\nno newline at the end"]),
    ],
)
def test_split_cells_cuts_at_markers_and_keeps_every_character(script, pieces):
    from jupyterhub_ds.review.script_cells import split_cells

    assert split_cells(script) == pieces
    assert "".join(split_cells(script)) == script
