"""Hole: the offline OSV database (``packages.vulnerability_database``) is a folder or a .zip the
admin downloads and carries over; the reader trusted its shape. A named pipe (or a link to a
device such as /dev/zero) called ``*.json`` in the folder made every package check (``packages check``, the image
build, every promotion clean run) hang for ever; an advisory with a field of the wrong type
(``"affected": [1]``, ``"summary": 5``, ``"versions": 5``), JSON nested too deep, or a zip member
whose size lies crashed the check with a traceback instead of a message.

Controls (packages/osv.py): only regular files are read, and at most MAX_FILE_BYTES of each; an
affected entry or range not in OSV's shape is left out (an advisory without an id too), the others
are still used; a zip member that cannot be read is a DatabaseError, which the callers report as "the
package check could not run" (the check fails closed).
"""

import json
import os
import threading
import zipfile

import pytest

from jupyterhub_ds.packages import osv
from jupyterhub_ds.packages.policy import PackagePolicy, image_problems

pytestmark = pytest.mark.unit

IMAGE = [{"name": "requests", "version": "2.31.0", "license": "", "license_expression": "", "classifiers": []}]
REAL = {
    "id": "GHSA-real",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.0"}]}],
        }
    ],
}
HOSTILE = {
    "affected-not-objects": {"id": "X-1", "affected": [1, "requests"]},
    "affected-a-string": {"id": "X-2", "affected": "requests"},
    "summary-a-number": {"id": "X-3", "summary": 5, "affected": REAL["affected"]},
    "id-a-list": {"id": ["X-4"], "affected": REAL["affected"]},
    "versions-a-number": {
        "id": "X-5",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"}, "versions": 5}],
    },
    "events-not-objects": {
        "id": "X-6",
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": "requests"}, "ranges": [{"type": "ECOSYSTEM", "events": [7]}]}
        ],
    },
    "event-a-number": {
        "id": "X-7",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": 2}]}],
            }
        ],
    },
    "package-name-a-list": {"id": "X-8", "affected": [{"package": {"ecosystem": "PyPI", "name": ["requests"]}}]},
}
REAL_PROBLEM = (
    "requests 2.31.0 has the known vulnerability GHSA-real; upgrade to 2.32.0, or list GHSA-real in "
    "packages.ignored_advisories"
)


def policy(path):
    return PackagePolicy(denied_licenses=(), vulnerability_database=str(path))


@pytest.mark.parametrize("hostile", [*HOSTILE, "nested-too-deep"])
def test_malformed_advisories_are_left_out_and_the_real_ones_still_count(tmp_path, hostile):
    folder = tmp_path / "osv"
    folder.mkdir()
    (folder / "GHSA-real.json").write_text(json.dumps(REAL))
    text = json.dumps(HOSTILE[hostile]) if hostile in HOSTILE else "[" * 200_000 + "]" * 200_000
    (folder / f"{hostile}.json").write_text(text)
    problems = image_problems(IMAGE, policy(folder))
    if hostile == "summary-a-number":  # still a vulnerability, without its summary
        assert problems == [REAL_PROBLEM, REAL_PROBLEM.replace("GHSA-real", "X-3")]
    else:
        assert problems == [REAL_PROBLEM]


def test_a_named_pipe_in_the_database_does_not_hang_the_check(tmp_path):
    folder = tmp_path / "osv"
    folder.mkdir()
    (folder / "GHSA-real.json").write_text(json.dumps(REAL))
    fifo = folder / "PYSEC-pipe.json"
    os.mkfifo(fifo)
    result = []
    worker = threading.Thread(target=lambda: result.append(image_problems(IMAGE, policy(folder))), daemon=True)
    worker.start()
    worker.join(10)
    try:
        assert not worker.is_alive(), "the check hangs on a named pipe in the database"
        assert result == [[REAL_PROBLEM]]
    finally:
        if worker.is_alive():  # let the stuck reader go
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            worker.join(5)


def test_a_zip_member_whose_size_lies_is_a_database_error(tmp_path):
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("GHSA-real.json", json.dumps(REAL))
        z.writestr("PYSEC-big.json", " " * 1_000_000 + "{}")
    data = bytearray(path.read_bytes())
    # the central directory's uncompressed size of the second member: claim 100 bytes
    at = data.rfind(b"PK\x01\x02")
    data[at + 24 : at + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(osv.DatabaseError, match="PYSEC-big.json cannot be read"):
        image_problems(IMAGE, policy(path))
