"""What a leaked credential looks like: the built-in patterns and the policy's extra regexes.

Pure. A finding never carries the matched secret itself, only its kind and a masked prefix,
so messages and logs stay clean.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

# (kind shown to people, shown prefix, regex). Formats from the vendors' documentation. The
# patterns start with their literal prefix (no leading \b): Python's re then skips ahead with a
# fast literal search, which matters on notebooks with megabytes of output.
BUILTIN = (
    ("a GitLab token", "glpat-…", r"glpat-[0-9A-Za-z_\-]{20,}"),
    ("a GitLab token", "gl…-…", r"gl(?:oas|dt|rt|ptt|ft|imt|agent|soat|cbt|ffct)-[0-9A-Za-z_\-]{20,}"),
    ("a GitHub token", "ghp_…", r"gh[pousr]_[A-Za-z0-9]{36,}"),
    ("a GitHub token", "github_pat_…", r"github_pat_[A-Za-z0-9_]{22,}"),
    ("an AWS access key", "AKIA…", r"(?<![0-9A-Za-z])A[KS]IA[0-9A-Z]{16}(?![0-9A-Za-z])"),
    ("a private key", "-----BEGIN … PRIVATE KEY-----", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
)


@dataclass(frozen=True)
class SecretPattern:
    kind: str
    shown: str
    regex: re.Pattern


@dataclass(frozen=True)
class Finding:
    kind: str
    shown: str
    line: int  # 1-based line inside the scanned text


def compile_patterns(extra: tuple[str, ...] | list[str] = ()) -> tuple[SecretPattern, ...]:
    return _compile(tuple(extra or ()))


@lru_cache(maxsize=16)
def _compile(extra: tuple[str, ...]) -> tuple[SecretPattern, ...]:
    patterns = [SecretPattern(kind, shown, re.compile(rx)) for kind, shown, rx in BUILTIN]
    for i, rx in enumerate(extra or ()):
        patterns.append(SecretPattern(f"a secret (matches the admin's pattern #{i + 1})", "…", re.compile(rx)))
    return tuple(patterns)


def scan_text(text: str, patterns: tuple[SecretPattern, ...]) -> list[Finding]:
    """Every pattern that matches ``text``, once per pattern, with the line of its first match."""
    findings = []
    for pattern in patterns:
        match = pattern.regex.search(text)
        if match:
            findings.append(Finding(pattern.kind, pattern.shown, text.count("\n", 0, match.start()) + 1))
    return findings


# Findings of texts already scanned, per set of patterns, by a digest of the text: a resubmit
# with a few edited cells rescans only those cells. Keyed by digest so the cache holds no
# notebook content, and bounded.
_SCANNED: dict = {}
SCANNED_MAX = 50_000


class CachedScanner:
    """``scan_text`` with ``patterns``, remembering the findings for texts seen before."""

    def __init__(self, patterns: tuple[SecretPattern, ...]):
        self.patterns = patterns
        if len(_SCANNED) > 16:
            _SCANNED.clear()
        self.found = _SCANNED.setdefault(patterns, {})

    def __call__(self, text: str) -> list[Finding]:
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        found = self.found.get(key)
        if found is None:
            found = tuple(scan_text(text, self.patterns))
            if len(self.found) >= SCANNED_MAX:
                self.found.clear()
            self.found[key] = found
        return list(found)
