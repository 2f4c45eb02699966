"""The clean run's runner (run inside the container) skips the project's tests when the job says
so: a review run executes the changed notebooks only."""

import json
import subprocess
import sys

import pytest

from jupyterhub_ds.promotion.clean_run import SCRIPT

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("tests, expected", [(False, "skipped"), (True, "ok")])
def test_the_job_decides_whether_the_projects_tests_run(tmp_path, tests, expected):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "test_it.py").write_text("def test_one():\n    assert True\n")
    job = {
        "notebooks": [],
        "parameters": {},
        "seed": 0,
        "cell_timeout": 10,
        "src": str(src),
        "out": str(out),
        "tests": tests,
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "job.json")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "result.json").read_text())["tests"]["status"] == expected
