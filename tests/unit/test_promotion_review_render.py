"""A review run's executed notebook as HTML: plots, tables and text are shown; nothing the notebook
wrote becomes a script, an event handler, a remote fetch or a javascript: link."""

import re

import nbformat
import pytest

from jupyterhub_ds.promotion import render
from jupyterhub_ds.promotion.render import RenderError, render_notebook

pytestmark = pytest.mark.unit

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def out(kind="display_data", **data):
    return nbformat.v4.new_output(kind, data=data, **({"execution_count": 1} if kind == "execute_result" else {}))


def page(*cells, **metadata):
    nb = nbformat.v4.new_notebook(metadata=metadata)
    nb.cells = list(cells)
    return render_notebook(nbformat.writes(nb).encode(), "analysis/plot.py at 0123456789ab")


def test_plots_tables_markdown_and_text_are_shown():
    html = page(
        nbformat.v4.new_markdown_cell("# Churn\nCustomers by *tenure*, **charges** and `plan`."),
        nbformat.v4.new_code_cell("plt.show()", outputs=[out(**{"image/png": PNG, "text/plain": "<Figure>"})]),
        nbformat.v4.new_code_cell(
            "df",
            outputs=[
                out(
                    "execute_result",
                    **{
                        "text/html": "<table class='dataframe' border='1'><thead><tr><th>tenure</th></tr></thead>"
                        "<tbody><tr><td style='color: red'>12</td></tr></tbody></table>",
                        "text/plain": "df",
                    },
                )
            ],
        ),
        nbformat.v4.new_code_cell(
            "svg", outputs=[out(**{"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'/>"})]
        ),
        nbformat.v4.new_code_cell(
            "print(2)", outputs=[nbformat.v4.new_output("stream", name="stdout", text="2 <b>\n")]
        ),
    )
    assert f'src="data:image/png;base64,{PNG}"' in html
    assert re.search(r"<table[^>]*>\s*<thead>\s*<tr>\s*<th>tenure</th>", html)
    assert '<td style="color: red;">12</td>' in html or '<td style="color: red">12</td>' in html
    assert re.search(r"<h1[^>]*>Churn</h1>", html) and "<em>tenure</em>" in html and "<code>plan</code>" in html
    assert 'src="data:image/svg+xml;base64,' in html  # an SVG in <img> runs no script
    assert "2 &lt;b&gt;" in html
    assert "<title>analysis/plot.py at 0123456789ab</title>" in html


def test_nothing_the_notebook_wrote_runs():
    html = page(
        nbformat.v4.new_markdown_cell(
            "<script>alert(1)</script> <img src=x onerror=alert(2)> "
            "[link](javascript:alert(3)) <a href='https://example.org'>ok</a>"
        ),
        nbformat.v4.new_code_cell(
            "x",
            outputs=[
                out(
                    **{
                        "text/html": "<b onclick='alert(4)'>bold</b><script>alert(5)</script><iframe src='https://evil'></iframe>"
                        "<img src='https://tracker.example/pixel.png'><style>body{display:none}</style>",
                        "application/javascript": "alert(6)",
                        "application/vnd.jupyter.widget-view+json": {
                            "model_id": "m1",
                            "version_major": 2,
                            "version_minor": 0,
                        },
                        "text/plain": "x",
                    }
                )
            ],
        ),
        nbformat.v4.new_code_cell("md", outputs=[out(**{"text/markdown": "<svg onload=alert(7)>"})]),
        widgets={"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2, "version_minor": 0}},
    )
    assert not re.search(r"<\s*script", html, re.I)
    assert not re.search(r"<[^>]+\son\w+\s*=", html, re.I)  # no event handler attribute on any element
    assert "alert(6)" not in html and "widget-state" not in html and "widget-view" not in html
    assert "<iframe" not in html and "<style>body" not in html and "<svg onload" not in html
    assert 'href="javascript' not in html and not re.search(r'<img[^>]+src="https://tracker', html)
    assert '<a href="https://example.org">ok</a>' in html and "<b>bold</b>" in html


def test_a_notebook_too_big_or_broken_is_refused_with_the_reason(monkeypatch):
    with pytest.raises(RenderError, match="cannot be read"):
        render_notebook(b"not json", "x")
    monkeypatch.setattr(render, "MAX_NOTEBOOK_BYTES", 10)
    with pytest.raises(RenderError, match="more than the 0 MiB shown as HTML; make its outputs smaller"):
        render_notebook(nbformat.writes(nbformat.v4.new_notebook()).encode(), "x")
