"""The merge request summary: cell-level changes from nbdime, fences, escaping, fallback (pure)."""

import pytest

from jupyterhub_ds.review.summary import (
    cell_changes,
    cell_summary,
    compute_cell_summary,
    fence,
    mr_description,
    script_summary,
)

pytestmark = pytest.mark.unit


def cells(*sources):
    return [{"cell_type": "markdown" if s.startswith("#") else "code", "source": s} for s in sources]


BASE = cells("# Title", "import pandas as pd", "df = pd.read_csv('a.csv')\ndf.head()", "print('bye')")


@pytest.mark.parametrize(
    "new, counts",
    [
        (BASE, (0, 0, 0)),
        (BASE + cells("x = 1"), (1, 0, 0)),
        (BASE[:3], (0, 1, 0)),
        (BASE[:2] + cells("df = pd.read_csv('b.csv')\ndf.head()") + BASE[3:], (0, 0, 1)),
        (cells("# Title", "import pandas as pd", "y = 2", "df = pd.read_csv('a.csv')\ndf.head()"), (1, 1, 0)),
    ],
)
def test_counts_of_added_removed_changed_cells(new, counts):
    import nbdime
    import nbformat

    from jupyterhub_ds.review.summary import as_notebook

    diff = nbdime.diff_notebooks(nbformat.from_dict(as_notebook(BASE)), nbformat.from_dict(as_notebook(new)))
    changes = cell_changes(diff, BASE, new)
    assert tuple(sum(1 for c in changes if c[0] == k) for k in ("added", "removed", "changed")) == counts


def test_changed_cell_shows_a_fenced_unified_diff_with_the_new_cell_number():
    new = cells("# Title", "import numpy as np") + BASE[1:3] + [{"cell_type": "code", "source": "print('ciao')"}]
    text = compute_cell_summary("analysis/eda.ipynb", "main", BASE, new)
    assert text.startswith(
        "### Notebook changes in `analysis/eda.ipynb` (compared with `main`)\n\n"
        "**1** cells added, **0** removed, **1** changed.\n"
    )
    assert "#### Cell 2 added (code, in the new notebook)\n\n```python\nimport numpy as np\n```" in text
    assert (
        "#### Cell 5 changed (code, in the new notebook)\n\n```diff\n@@ -1 +1 @@\n-print('bye')\n+print('ciao')\n```"
        in text
    )


def test_removed_cells_are_numbered_in_the_old_notebook():
    text = compute_cell_summary("n.ipynb", "main", BASE, BASE[:3])
    assert "#### Cell 4 removed (code, in the old notebook)\n\n```python\nprint('bye')\n```" in text


def test_a_new_notebook_lists_every_cell_as_added():
    text = compute_cell_summary("n.ipynb", "main", [], BASE)
    assert "**4** cells added, **0** removed, **0** changed." in text and text.count("#### Cell") == 4


def test_no_changes_says_so():
    assert "No cell changes." in cell_summary("n.ipynb", "main", [])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x = 1", "```py\nx = 1\n```"),
        ("s = '```'", "````py\ns = '```'\n````"),
        ("a ````` b", "``````py\na ````` b\n``````"),
    ],
)
def test_fence_is_longer_than_any_backtick_run_inside(text, expected):
    assert fence(text, "py") == expected


def test_user_text_outside_fences_is_html_escaped():
    text = cell_summary("<img src=x onerror=alert(1)>.ipynb", "<b>main</b>", [])
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;.ipynb" in text and "&lt;b&gt;main" in text


def test_code_with_html_stays_inside_the_fence():
    new = cells("print('<script>alert(1)</script>')")
    text = compute_cell_summary("n.ipynb", "main", [], new)
    assert "```python\nprint('<script>alert(1)</script>')\n```" in text


def test_many_changed_cells_are_capped_with_a_note():
    base = cells(*[f"x{i} = {i}" for i in range(100)])
    new = cells(*[f"x{i} = {i + 1}" for i in range(100)])
    text = compute_cell_summary("n.ipynb", "main", base, new)
    assert "**0** cells added, **0** removed, **100** changed." in text
    assert text.count("#### Cell") == 60 and "… and 40 more changed cells (see the Changes tab)." in text


def test_fallback_is_the_scripts_unified_diff_with_the_reason():
    text = script_summary(
        "n.ipynb", "n.py", "main", "# %%\nx = 1\n", "# %%\nx = 2\n", "the cell-level summary took longer than 1.5 s"
    )
    assert text == (
        "### Notebook changes in `n.ipynb` (compared with `main`)\n\n"
        "_the cell-level summary took longer than 1.5 s; showing the script's unified diff._\n\n"
        "```diff\n--- a/n.py\n+++ b/n.py\n@@ -1,2 +1,2 @@\n # %%\n-x = 1\n+x = 2\n```\n"
    )


@pytest.mark.parametrize(
    "user, expected",
    [
        ("", "S"),
        ("  Why: churn.  ", "Why: churn.\n\n---\n\nS"),
    ],
)
def test_description_puts_the_users_text_first(user, expected):
    assert mr_description(user, "S") == expected


# --- the cell matching is nbdime's, in bounded time ---------------------------------------------


def code(*sources):
    return [{"cell_type": "code", "source": s} for s in sources]


LONG = "\n".join(f"frame_{k} = load('part-{k}.csv').dropna().groupby('region').sum()" for k in range(8))
NB = cells(
    "# Churn analysis",
    "import pandas as pd",
    "df = pd.read_csv('churn.csv')",
    "df.describe()",
    "## Model",
    "from sklearn.linear_model import LogisticRegression",
    "model = LogisticRegression().fit(df[features], df.churned)",
    "print(model.score(X, y))",
)
MATCHING = [
    ("unchanged", NB, NB),
    ("one cell edited", NB, NB[:2] + code("df = pd.read_csv('churn-2024.csv')") + NB[3:]),
    ("a cell added in the middle", NB, NB[:4] + code("df.info()") + NB[4:]),
    ("cells added at both ends", NB, cells("# Intro") + NB + code("print('done')")),
    ("a cell removed", NB, NB[:3] + NB[4:]),
    ("a cell moved down", NB, NB[:1] + NB[2:6] + NB[1:2] + NB[6:]),
    ("a cell moved up", NB, NB[:2] + NB[6:7] + NB[2:6] + NB[7:]),
    ("two cells swapped", NB, NB[:2] + [NB[3], NB[2]] + NB[4:]),
    ("a cell rewritten", NB, NB[:3] + code("summary = df.groupby('plan').churned.mean()") + NB[4:]),
    ("a cell's type changed", NB, NB[:4] + [{"cell_type": "code", "source": "## Model"}] + NB[5:]),
    ("edited and added", NB, NB[:2] + code("df = pd.read_csv('churn.csv', sep=';')", "df.head()") + NB[3:]),
    (
        "edited, removed and added",
        NB,
        NB[:1]
        + code("import pandas as pd\nimport numpy as np")
        + NB[3:6]
        + code("model = LogisticRegression(C=0.5).fit(df[features], df.churned)", "model.coef_"),
    ),
    ("short cells", code("x = 1", "y = 2", "z = 3"), code("x = 1", "y = 20", "w", "z = 3")),
    ("empty cells", code("", "a = 1", ""), code("a = 1", "", "b")),
    (
        "long cell edited",
        code("import os", LONG, "print(1)"),
        code("import os", LONG.replace("sum()", "mean()", 2), "print(1)"),
    ),
    ("new notebook", [], NB),
    ("everything deleted", NB, []),
    ("every cell edited", NB, [dict(c, source=c["source"] + " # v2") for c in NB]),
]


@pytest.mark.parametrize("base, new", [row[1:] for row in MATCHING], ids=[row[0] for row in MATCHING])
def test_cells_are_matched_as_nbdime_matches_them(base, new):
    import nbdime
    import nbformat

    from jupyterhub_ds.review.summary import aligned_changes, as_notebook

    diff = nbdime.diff_notebooks(nbformat.from_dict(as_notebook(base)), nbformat.from_dict(as_notebook(new)))
    assert aligned_changes(base, new) == cell_changes(diff, base, new)


def test_a_large_notebook_with_every_cell_changed_gets_the_cell_level_summary():
    from jupyterhub_ds.review.summary import aligned_changes

    base = code(*[f"x{i} = compute({i})\nresult_{i} = x{i} * 2\nprint(result_{i})" for i in range(1000)])
    new = [dict(c, source=c["source"].replace("compute", "recompute")) for c in base]
    new.insert(500, {"cell_type": "code", "source": "print('a new cell')"})
    del new[100]
    changes = aligned_changes(base, new)
    assert [k for k, *_ in changes].count("changed") == 999
    assert ("added", 500, None, new[499]) in changes and ("removed", 101, base[100], None) in changes


def test_past_the_comparison_budget_the_rest_is_paired_by_position(monkeypatch):
    from jupyterhub_ds.review import summary

    monkeypatch.setattr(summary, "MAX_COMPARISONS", 10)
    base = code(*[f"value_{i} = fetch({i}) + offset_{i}" for i in range(200)])
    new = [dict(c, source=c["source"].replace("fetch", "load")) for c in base]
    changes = summary.aligned_changes(base, new)
    assert [k for k, *_ in changes] == ["changed"] * 200
