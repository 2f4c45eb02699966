"""Package governance of a clean run: what the image has installed and what notebooks import.

Pure checks over what the in-container runner reports:

- ``installed``: every distribution in the image (name, version, licence fields), recorded
  as ``pip freeze`` and checked against the refused licence words (AGPL, SSPL, …);
- ``imports``: the distributions the notebooks import (the runner maps top-level module
  names to distributions inside the image), checked against the project's allow-list, the
  same meaning as the review allow-list ("packages notebooks may import").
"""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name

DEFAULT_DENIED_LICENSES = ("AGPL", "Affero", "SSPL", "Commons Clause", "Proprietary", "Commercial")


def licence_text(dist):
    parts = [dist.get("license_expression") or "", dist.get("license") or ""]
    parts += [c for c in dist.get("classifiers") or [] if c.startswith("License")]
    return " | ".join(p for p in parts if p)


def licence_problems(installed, denied):
    """Installed distributions whose licence names a refused word (whole word, any case)."""
    problems = []
    for word in denied:
        # whole word, but "AGPLv3" counts as AGPL (a version may follow)
        pattern = re.compile(rf"(?<![A-Za-z]){re.escape(word)}(?=v?[0-9]|[^A-Za-z]|$)", re.I)
        for dist in installed:
            text = licence_text(dist)
            if text and pattern.search(text):
                problems.append(
                    f"{dist['name']} {dist.get('version', '')} is licensed {text[:80]!r}, which matches the refused "
                    f"licence {word!r}; remove it from the image or take {word!r} out of denied_licenses"
                )
    return problems


def import_problems(imports, allowed):
    """Imported distributions not on the allow-list; ``allowed`` None: no check."""
    if allowed is None:
        return []
    ok = {canonicalize_name(a) for a in allowed}
    problems = []
    for item in imports:
        if canonicalize_name(item["distribution"]) not in ok:
            problems.append(
                f"{item['notebook']} imports {item['module']} (distribution {item['distribution']}), which is not on "
                "the allow-list; add it to allowed_packages or drop the import"
            )
    return problems


def check_packages(installed, imports, allowed=None, denied=DEFAULT_DENIED_LICENSES):
    problems = licence_problems(installed, denied) + import_problems(imports, allowed)
    return {"status": "ok" if not problems else "failed", "problems": problems, "count": len(installed)}


def pip_freeze(installed):
    """``name==version`` lines sorted by name, like ``pip freeze``."""
    return "\n".join(f"{d['name']}=={d['version']}" for d in sorted(installed, key=lambda d: canonicalize_name(d["name"])))
