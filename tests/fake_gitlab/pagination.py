"""GitLab offset pagination: ``page``/``per_page`` in, ``Link`` and ``X-*`` headers out."""

from __future__ import annotations

import math
import urllib.parse

DEFAULT_PER_PAGE, MAX_PER_PAGE = 20, 100


def page_numbers(params: dict) -> tuple[int, int]:
    def as_int(name, default):
        try:
            return int(params.get(name) or default)
        except (TypeError, ValueError):
            return default

    page = max(1, as_int("page", 1))
    per_page = min(MAX_PER_PAGE, max(1, as_int("per_page", DEFAULT_PER_PAGE)))
    return page, per_page


def paginate(handler, items: list) -> list:
    """The slice of ``items`` for the requested page; sets GitLab's pagination headers."""
    page, per_page = page_numbers(handler.params)
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    query = {k: v for k, v in handler.request.query_arguments.items() if k not in ("page", "per_page")}
    base = handler.ctx.base_url + handler.request.path

    def link(n: int) -> str:
        pairs = [(k, v.decode()) for k, vs in query.items() for v in vs]
        pairs += [("page", str(n)), ("per_page", str(per_page))]
        return f"{base}?{urllib.parse.urlencode(pairs)}"

    links = []
    if page > 1:
        links.append(f'<{link(page - 1)}>; rel="prev"')
    if page < pages:
        links.append(f'<{link(page + 1)}>; rel="next"')
    links += [f'<{link(1)}>; rel="first"', f'<{link(pages)}>; rel="last"']
    handler.set_header("Link", ", ".join(links))
    handler.set_header("X-Page", str(page))
    handler.set_header("X-Per-Page", str(per_page))
    handler.set_header("X-Next-Page", str(page + 1) if page < pages else "")
    handler.set_header("X-Prev-Page", str(page - 1) if page > 1 else "")
    handler.set_header("X-Total", str(total))
    handler.set_header("X-Total-Pages", str(pages))
    return items[(page - 1) * per_page : page * per_page]
