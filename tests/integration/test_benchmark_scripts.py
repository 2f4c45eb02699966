"""The review benchmark script still runs end to end (its figures are not judged here: speed
goals are met in benchmarks, not in timed tests)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.fixtures.gitlab import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_bench_review_runs_and_prints_every_figure():
    out = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_review", "--rounds", "1"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"summary: submit ratio [\d.]+ with the button, [\d.]+ through the REST API with no check "
                        r"\(<= 1\.5: (yes|NO), (yes|NO)\); worst-case summary [\d.]+ s \(<= 2 s: (yes|NO)\); "
                        r"pairing save ratio [\d.]+ \(<= 1\.2: (yes|NO)\)", summary), summary
    assert "round 1: button" in out.stdout and "(MR !1, updated)" in out.stdout
