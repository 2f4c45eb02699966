"""Review runs in the record store: a table of their own, so a database an older version wrote
keeps its runs and gains the table at the next start."""

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, inspect

from jupyterhub_ds.promotion.records import Base, LaneState, ReviewRun, Run, Store, utcnow

pytestmark = pytest.mark.unit


def review(run_id, *, iid=1, commit="c1", status="queued", minutes=0, project="ds/churn"):
    return ReviewRun(
        id=run_id,
        project=project,
        mr_iid=iid,
        commit=commit,
        status=status,
        queued_at=utcnow() + timedelta(minutes=minutes),
    )


def test_a_database_of_the_previous_version_keeps_its_runs_and_gains_review_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'promotion.sqlite'}"
    old = create_engine(url)
    Base.metadata.create_all(old, tables=[Run.__table__, LaneState.__table__])  # what the last release made
    with old.begin() as c:
        c.execute(
            Run.__table__.insert().values(
                id="r1", project="ds/churn", source="main", target="staging", started_at=utcnow(), status="promoted"
            )
        )
    old.dispose()
    assert set(inspect(create_engine(url)).get_table_names()) == {"promotion_runs", "promotion_lanes"}

    store = Store(url)
    assert "promotion_review_runs" in inspect(store.engine).get_table_names()
    assert store.get("r1").status == "promoted" and store.review_runs() == []
    store.add(review("v1"))
    assert store.get_review("v1").as_record()["status"] == "queued"
    assert store.get("r1").as_record()["run_id"] == "r1"  # the promotion table is untouched


def test_queue_order_filters_and_updates():
    store = Store("sqlite://")
    store.add(review("a", iid=1, commit="c1", minutes=0))
    store.add(review("b", iid=2, commit="c2", minutes=1))
    store.add(review("c", iid=1, commit="c3", minutes=2, status="running"))
    assert [r.id for r in store.review_queue()] == ["a", "b"]
    assert [r.id for r in store.review_runs(mr_iid=1)] == ["c", "a"]  # newest first
    assert [r.id for r in store.review_runs(status=("queued", "running"), commit="c3")] == ["c"]
    assert store.update_review("a", status="canceled").status == "canceled"
    assert [r.id for r in store.review_queue()] == ["b"]
    with pytest.raises(LookupError, match="no review run 'zzz'"):
        store.update_review("zzz", status="failed")
    with pytest.raises(LookupError, match="no promotion run 'a'"):
        store.update("a", status="failed")  # review runs are not promotion runs
    assert store.unfinished() == []
