"""The review events the server extension hands the hub: built from a submit's answer, posted
with the server's own token, never failing the submit."""

import pytest

from jupyterhub_ds.review import hub_events

pytestmark = pytest.mark.unit

NB = "projects/ds/notebooks/eda.ipynb"


def test_a_submit_names_its_files_branch_and_merge_request():
    result = {
        "path": NB,
        "branch": "review/alice/eda",
        "created": False,
        "summary": "cells...",
        "mr": {"iid": 7, "web_url": "https://gitlab.example.com/ds/notebooks/-/merge_requests/7"},
    }
    assert hub_events.submitted(result, 2.34567) == {
        "action": "review.submit",
        "paths": [NB, "projects/ds/notebooks/eda.py"],
        "branch": "review/alice/eda",
        "mr_iid": 7,
        "mr_url": "https://gitlab.example.com/ds/notebooks/-/merge_requests/7",
        "project": "ds/notebooks",
        "created": False,
        "latency_seconds": 2.346,
    }


@pytest.mark.parametrize(
    "status, gates, expected",
    [
        (
            422,
            [{"gate": "paired", "ok": True}, {"gate": "secrets", "ok": False}, {"gate": "size", "ok": False}],
            {"action": "review.refused", "gates": ["secrets", "size"]},
        ),
        (502, None, {"action": "review.failed"}),
        (400, None, {"action": "review.failed"}),
    ],
)
def test_a_submit_that_did_not_happen_says_which_gates_or_the_status(status, gates, expected):
    event = hub_events.refused(NB, status, gates, 0.5)
    assert event == {
        **expected,
        "paths": [NB, "projects/ds/notebooks/eda.py"],
        "status": status,
        "latency_seconds": 0.5,
    }
    assert hub_events.refused(None, 400, None, 0)["paths"] == []  # no path in the request


def test_outside_a_hub_nothing_is_posted():
    assert hub_events.post({"action": "review.submit"}, environ={}) is False
