"""Secret patterns: what counts as a leaked credential, and what does not."""

import pytest

from jupyterhub_ds.review.secret_patterns import compile_patterns, scan_text

pytestmark = pytest.mark.unit

PATTERNS = compile_patterns((r"corp-[0-9]{4}-secret",))


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("token = 'glpat-" + "x1Y2z3" * 4 + "'", ["a GitLab token"]),
        ("glpat-abcdefghijklmnopqrstu", ["a GitLab token"]),
        ("glpat-short", []),
        ("gloas-" + "a" * 30, ["a GitLab token"]),
        ("ghp_" + "a" * 36, ["a GitHub token"]),
        ("ghs_" + "B" * 36, ["a GitHub token"]),
        ("ghp_" + "a" * 10, []),
        ("github_pat_" + "11ABCDEFG" * 4, ["a GitHub token"]),
        ("AKIAIOSFODNN7EXAMPLE", ["an AWS access key"]),
        ("AKIAIOSFODNN7EXAMPL", []),
        ("xAKIAIOSFODNN7EXAMPLE", []),
        ("-----BEGIN RSA PRIVATE KEY-----\nMII", ["a private key"]),
        ("-----BEGIN PRIVATE KEY-----", ["a private key"]),
        ("-----BEGIN PGP PRIVATE KEY BLOCK-----", ["a private key"]),
        ("-----BEGIN PUBLIC KEY-----", []),
        ("pw = corp-1234-secret", ["a secret (matches the admin's pattern #1)"]),
        ("nothing to see", []),
    ],
)
def test_patterns(text, kinds):
    assert [f.kind for f in scan_text(text, PATTERNS)] == kinds


def test_findings_carry_the_line_not_the_secret():
    findings = scan_text("a\nb\nkey AKIAIOSFODNN7EXAMPLE\n", PATTERNS)
    assert [(f.kind, f.shown, f.line) for f in findings] == [("an AWS access key", "AKIA…", 3)]
    assert "IOSFODNN" not in repr(findings)
