"""The review policy the spawner hands to the container (``JUPYTERHUB_DS_REVIEW_POLICY``, JSON).

Pure: parsing and defaults only. The keys are the admin YAML's ``review`` section after
``jupyterhub_ds.config.apply.review_policy`` (sizes already in bytes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

POLICY_ENV = "JUPYTERHUB_DS_REVIEW_POLICY"


@dataclass(frozen=True)
class ReviewPolicy:
    commit_notebooks: bool = False
    branch_prefix: str = "review"
    target_branch: str = "main"
    max_file_size: int = 10 * 1024 * 1024
    max_submission_size: int = 50 * 1024 * 1024
    secret_patterns: tuple[str, ...] = ()
    allowed_packages: tuple[str, ...] | None = None
    extra: dict = field(default_factory=dict, compare=False)


class PolicyError(ValueError):
    pass


def parse_policy(text: str | None) -> ReviewPolicy:
    """JSON text (or empty) -> ReviewPolicy; a bad value names the key and the fix."""
    if not text or not text.strip():
        return ReviewPolicy()
    try:
        data = json.loads(text)
    except ValueError as e:
        raise PolicyError(f"{POLICY_ENV} is not valid JSON ({e}); fix the review section of the admin config") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{POLICY_ENV} must be a JSON object, not {type(data).__name__}")
    return policy_from_dict(data)


def policy_from_dict(data: dict) -> ReviewPolicy:
    known = {
        k: data[k]
        for k in ("commit_notebooks", "branch_prefix", "target_branch", "max_file_size", "max_submission_size")
        if data.get(k) is not None
    }
    for key in ("max_file_size", "max_submission_size"):
        if key in known and (not isinstance(known[key], int) or known[key] <= 0):
            raise PolicyError(f"review policy {key}={known[key]!r} must be a positive number of bytes")
    patterns = tuple(data.get("secret_patterns") or ())
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as e:
            raise PolicyError(f"review policy secret_patterns: {pattern!r} is not a valid regex ({e})") from None
    allowed = data.get("allowed_packages")
    return ReviewPolicy(
        **known,
        secret_patterns=patterns,
        allowed_packages=None if allowed is None else tuple(str(a) for a in allowed),
        extra={k: v for k, v in data.items() if k not in ReviewPolicy.__dataclass_fields__},
    )
