"""The benchmark scripts still run end to end, in their quick form (their figures are not judged
here: speed goals are met in benchmarks, not in timed tests)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.fixtures.gitlab import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_bench_review_runs_and_prints_every_figure():
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_review", "--rounds", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"summary: submit ratio [\d.]+ with the button, [\d.]+ through the REST API with no check "
        r"\(<= 1\.5: (yes|NO), (yes|NO)\); worst-case summary [\d.]+ s (with|without) the fallback "
        r"\(<= 1 s without: (yes|NO)\); "
        r"pairing save ratio [\d.]+ \(<= 1\.2: (yes|NO)\)",
        summary,
    ), summary
    assert "round 1: button" in out.stdout and "(MR !1, updated)" in out.stdout


@pytest.mark.timeout(600)
def test_bench_spawn_runs_and_prints_every_figure():
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_spawn", "--quick"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"summary: spawn ratio [\d.]+ \(<= 1\.2: (yes|NO)\); 3 at once: p95 ratio [\d.]+ "
        r"\(<= 1\.2: (yes|NO)\), 0 failed, 0 containers left; login storm p95 [\d.]+ s "
        r"\(<= 1 s: (yes|NO)\), 0 failed; hub RSS \d+ MB with 50 users \(<= 300 MB: (yes|NO)\)",
        summary,
    ), summary
    for figure in (
        "where a hub spawn's time goes",
        "GitLab refresh before spawn",
        "proxy route",
        "the longest any spawn page went without one",
        "the same floor with the garbage collector paused",
        "login until the spawn page",
        "the spawn page's own request",
        "hub RSS",
    ):
        assert figure in out.stdout, figure
