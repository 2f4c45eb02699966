"""Markdown to HTML for the demo pages, with raw HTML and script URLs disabled.

Python-Markdown passes raw HTML through by default; we deregister its HTML block/inline
handlers (so ``<script>`` stays text and gets escaped) and drop links/images whose URL is not
http(s), mailto or relative.
"""

from __future__ import annotations

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

SAFE_SCHEMES = ("http://", "https://", "mailto:", "/", "#", "./", "../")


class _DropUnsafeUrls(Treeprocessor):
    def run(self, root):
        for element in root.iter():
            for attr in ("href", "src"):
                value = element.get(attr)
                if value is not None and ":" in value.split("/", 1)[0] and not value.lower().startswith(SAFE_SCHEMES):
                    element.set(attr, "#")


class _NoRawHtml(Extension):
    def extendMarkdown(self, md):
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_DropUnsafeUrls(md), "drop_unsafe_urls", 0)


def render(text: str) -> str:
    return markdown.markdown(text or "", extensions=["fenced_code", "tables", _NoRawHtml()])
