"""A review run's executed notebook as one self-contained HTML page: outputs, tables and plots, no
JavaScript.

nbconvert's ``HTMLExporter`` with its JupyterLab template, changed by :data:`TEMPLATE` so that
nothing executable is written: no require.js, MathJax, Mermaid or widget scripts, no JavaScript
outputs, no widget views or state. Every piece of HTML a notebook brings (Markdown cells, HTML
and Markdown outputs) goes through :func:`clean_html`, a bleach allow-list of formatting tags
(headings, paragraphs, lists, tables such as pandas writes, code) whose links may only be
http(s)/mailto and whose images may only be embedded PNG/JPEG/GIF/WebP; styles are filtered by
bleach's CSS sanitizer. Plots (PNG, JPEG, SVG outputs) become ``data:`` images; an SVG in an
``<img>`` never runs scripts. A page that still holds a ``<script`` is refused
(:class:`RenderError`), and the service serves every page with a CSP that allows no script at
all, so a gap here does not become code in a reader's browser.

The notebook is whatever the merge request's code wrote, so its size is bounded
(:data:`MAX_NOTEBOOK_BYTES`) before it is parsed.
"""

from __future__ import annotations

import logging
import re

MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024
TEMPLATE_NAME = "jupyterhub-ds-review.html.j2"
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_javascript scoped -%}{%- endblock data_javascript -%}
{%- block data_widget_view scoped -%}{%- endblock data_widget_view -%}
{%- block footer -%}</html>{%- endblock footer -%}
"""

ALLOWED_TAGS = frozenset(
    """a abbr acronym b blockquote br caption cite code col colgroup dd del details dfn div dl
dt em figcaption figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strike strong sub
summary sup table tbody td tfoot th thead tr tt u ul var""".split()
)
GLOBAL_ATTRIBUTES = frozenset({"class", "id", "title", "style", "align"})
TAG_ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "table": {"border"},
    "col": {"span"},
    "colgroup": {"span"},
}
IMAGE_DATA = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$")
LINK = re.compile(r"^(https?:|mailto:|#)", re.I)
SCRIPT = re.compile(r"<\s*script", re.I)
SCRIPTED = ("application/javascript", "application/vnd.jupyter.widget-view+json", "text/vnd.mermaid")


# nbconvert's own notes (e.g. "Alternative text is missing on 1 image(s)") are not the admin's business
NBCONVERT_LOG = logging.getLogger("jupyterhub_ds.promotion.render.nbconvert")
NBCONVERT_LOG.setLevel(logging.ERROR)


class RenderError(Exception):
    """The notebook could not be shown as HTML; the message says why."""


def _allowed_attribute(tag, name, value):
    if name in GLOBAL_ATTRIBUTES:
        return True
    if name not in TAG_ATTRIBUTES.get(tag, ()):
        return False
    if (tag, name) == ("img", "src"):
        return bool(IMAGE_DATA.match(value))  # embedded images only: nothing is fetched from elsewhere
    if (tag, name) == ("a", "href"):
        return bool(LINK.match(value.strip()))
    return True


def clean_html(element):
    """HTML from a notebook, with only the allow-listed tags, attributes and styles left (the
    rest escaped, so it shows as text)."""
    import bleach
    from bleach.css_sanitizer import ALLOWED_CSS_PROPERTIES, CSSSanitizer

    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(
        text,
        tags=ALLOWED_TAGS,
        attributes=_allowed_attribute,
        protocols={"http", "https", "mailto", "data"},
        strip_comments=True,
        css_sanitizer=CSSSanitizer(allowed_css_properties=ALLOWED_CSS_PROPERTIES),
    )


def render_notebook(data: bytes, title: str) -> str:
    """The executed notebook (``.ipynb`` bytes) as an HTML page without JavaScript; RenderError
    if it is too big, not a notebook, or nbconvert fails on it."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    if len(data) > MAX_NOTEBOOK_BYTES:
        raise RenderError(
            f"the executed notebook is {len(data) // (1024 * 1024)} MiB, more than the "
            f"{MAX_NOTEBOOK_BYTES // (1024 * 1024)} MiB shown as HTML; make its outputs smaller"
        )
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as e:  # not JSON, not a notebook, not UTF-8
        raise RenderError(f"the executed notebook cannot be read ({type(e).__name__}: {e})") from None
    nb.metadata.pop("widgets", None)  # widget state is for widget scripts, which are not shown
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for mimetype in SCRIPTED:  # shown by the next representation (HTML, an image, text) instead
                output.get("data", {}).pop(mimetype, None)
    exporter = HTMLExporter(
        template_name="lab",
        template_file=TEMPLATE_NAME,
        extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})],
        sanitize_html=True,
        embed_images=True,
        exclude_anchor_links=True,
        filters={"clean_html": clean_html},
        log=NBCONVERT_LOG,
    )
    try:
        html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    except Exception as e:  # a malformed output nbconvert cannot handle
        raise RenderError(f"nbconvert could not render the executed notebook ({type(e).__name__}: {e})") from None
    if SCRIPT.search(html):
        raise RenderError(
            "the rendered notebook still held a <script> element, so it is not kept (a bug in the rendering: report it)"
        )
    return html
