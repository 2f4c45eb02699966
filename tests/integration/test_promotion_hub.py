"""The promotion service as a hub-managed service behind the real hub: admins run now and roll
back, everyone else reads the history and gets 403 for actions."""

import pytest
import requests

from tests.fixtures.hub_login import new_session, page_text, parse_forms, submit
from tests.fixtures.postgres import hub_db_settings
from tests.fixtures.promotion import (
    HUB_PASSWORD,
    PROJECT,
    call,
    create_lanes,
    merge_change,
    promo_seed,
    settings,
    start_promotion_hub,
)

pytestmark = pytest.mark.integration

ADMIN, USER, OUTSIDER = "ada", "uma", "otto"


@pytest.fixture
def gitlab_seed():
    return promo_seed()


@pytest.fixture
def promotion_hub(request, gitlab_server, docker_client, singleuser_image, hub_factory, database_backend):
    # on SQLite, and on PostgreSQL for both the hub and the promotion store (two databases of one
    # server, each password only in the environment).
    # uma is in the project's namespace group (as GitLab group sync would make her); otto is not.
    # Merge requests get no review runs here (tests/integration/test_review_runs_hub.py has them).
    promotion_settings = {**settings(gitlab_server), "metrics_require_auth": True}
    service_env = {}
    db_text, db_env = hub_db_settings(database_backend)
    store = None
    if database_backend is not None:
        store = request.getfixturevalue("postgres_server").database(f"{database_backend.name}_promotion")
        promotion_settings["database_url"] = store.url()
        service_env["JUPYTERHUB_DS_PROMOTION_DB_PASSWORD"] = store.password
    hub = start_promotion_hub(
        hub_factory,
        promotion_settings,
        gitlab_server.admin_token,
        users=(ADMIN, USER, OUTSIDER),
        admins=(ADMIN,),
        groups={"data-science": [USER]},
        service_args=("--ReviewRuns.poll_interval=0",),
        service_env=service_env,
        hub_config_text=db_text,
        hub_env=db_env,
    )
    hub.store = store
    assert hub.api("GET", f"users/{ADMIN}").json()["admin"] is True
    return hub


def test_non_admin_reads_history_but_run_now_and_rollback_are_403(promotion_hub, gitlab_server):
    lanes = create_lanes(gitlab_server)
    merge_change(gitlab_server, {"notebooks/train.py": "# %%\nprint('v2')\n"}, "Train v2")
    staging_before = lanes.branches.get("staging").commit["id"]

    refused = call(promotion_hub, USER, "POST", "api/run-now", json={"project": PROJECT, "source": "main"})
    assert refused.status_code == 403
    assert "uma may not trigger promotions or rollbacks" in refused.json()["message"]
    refused = call(promotion_hub, USER, "POST", "api/rollback", json={"project": PROJECT, "run_id": "0123abcd"})
    assert refused.status_code == 403
    page = call(promotion_hub, USER, "GET", "")
    assert page.status_code == 200 and "(read-only)" in page.text and "Run now" not in page.text
    lanes_view = call(promotion_hub, USER, "GET", "api/lanes").json()["lanes"]
    assert [(v["source"], v["target"], v["schedule"]) for v in lanes_view] == [
        ("main", "staging", "0 2 * * *"),
        ("staging", "production", "0 4 * * 1"),
    ]
    assert call(promotion_hub, USER, "GET", "api/runs").json() == {"runs": []}
    assert lanes.branches.get("staging").commit["id"] == staging_before
    # someone outside the project's namespace does not see its lanes at all
    assert call(promotion_hub, OUTSIDER, "GET", "api/lanes").json()["lanes"] == []
    page = call(promotion_hub, OUTSIDER, "GET", "")
    assert page.status_code == 200 and PROJECT not in page.text
    assert '"event": "promotion.refused"' in promotion_hub.log_text()


def test_admin_runs_now_then_rolls_production_back_to_a_record(request, promotion_hub, gitlab_server):
    lanes = create_lanes(gitlab_server)

    def promote(source):
        r = call(promotion_hub, ADMIN, "POST", "api/run-now?wait=1", json={"project": PROJECT, "source": source})
        assert r.status_code == 200, r.text
        run = r.json()["run"]
        assert run["status"] == "promoted", run["error"] + "\n" + run["log_tail"]
        return run

    mr = merge_change(gitlab_server, {"notebooks/train.py": "# %%\nprint('v2')\n"}, "Train v2")
    first = promote("main")
    assert first["trigger"] == f"run now by {ADMIN}" and first["image_digest"] and "nbclient==" in first["pip_freeze"]
    assert lanes.branches.get("staging").commit["id"] == first["commit"] == lanes.branches.get("main").commit["id"]
    assert lanes.tags.get(first["tag"]).commit["id"] == first["commit"]
    notes = [n.body for n in lanes.mergerequests.get(mr.iid).notes.list(get_all=True)]
    assert any(first["tag"] in b and "Promoted to staging" in b for b in notes), notes
    first_prod = promote("staging")
    assert lanes.branches.get("production").commit["id"] == first["commit"] == first_prod["commit"]
    merge_change(gitlab_server, {"notebooks/train.py": "# %%\nprint('v3')\n"}, "Train v3")
    promote("main")
    second_prod = promote("staging")
    assert second_prod["commit"] != first_prod["commit"]

    page = call(promotion_hub, ADMIN, "GET", "")
    assert "Run now" in page.text and "Roll back production to this record" in page.text

    r = call(
        promotion_hub, ADMIN, "POST", "api/rollback?wait=1", json={"project": PROJECT, "run_id": first_prod["run_id"]}
    )
    assert r.status_code == 200, r.text
    rollback = r.json()["run"]
    assert (rollback["kind"], rollback["status"], rollback["rollback_of"]) == (
        "rollback",
        "promoted",
        first_prod["run_id"],
    )
    assert rollback["trigger"] == f"rollback by {ADMIN}" and rollback["gated_commit"] == first_prod["commit"]
    # Production moved forward (never forced) to a commit whose files are the recorded commit's.
    head = lanes.commits.get(lanes.branches.get("production").commit["id"])
    assert head.id == rollback["commit"] and head.parent_ids == [second_prod["commit"]]
    assert lanes.files.raw(file_path="notebooks/train.py", ref=head.id) == b"# %%\nprint('v2')\n"
    assert rollback["tag"].startswith("promote/production/")

    runs = call(promotion_hub, USER, "GET", "api/runs").json()["runs"]
    assert [r["status"] for r in runs] == ["promoted"] * 5
    if promotion_hub.store is not None:  # the records are in PostgreSQL
        assert (
            request.getfixturevalue("postgres_server")
            .psql("select count(*) from promotion_runs", database=promotion_hub.store.name)
            .strip()
            == "5"
        )
    assert call(promotion_hub, OUTSIDER, "GET", "api/runs").json() == {"runs": []}
    assert call(promotion_hub, OUTSIDER, "GET", f"api/runs/{runs[0]['run_id']}").status_code == 404
    # metrics.require_auth (the default): a token with read:metrics, as for /hub/metrics
    assert requests.get(promotion_hub.service_url + "metrics", timeout=30).status_code == 403
    metrics = requests.get(
        promotion_hub.service_url + "metrics",
        timeout=30,
        headers={"Authorization": f"token {promotion_hub.admin_token}"},
    ).text
    assert (
        f'jupyterhub_ds_promotion_runs_total{{lane="staging->production",project="{PROJECT}",status="promoted"}} 3.0'
        in metrics
    )
    assert "jupyterhub_ds_promotion_last_success_timestamp_seconds" in metrics


def browser_login(hub, name):
    """Sign in at /hub/login like a browser, then open the service page (hub OAuth, cookies)."""
    session = new_session()
    resp = session.get(f"{hub.url}/hub/login", params={"next": "/services/promotion/"}, timeout=30)
    [form] = [
        f
        for f in parse_forms(resp.text, resp.url)
        if "password" in f.fields or any(k == "password" for _, k in f.inputs)
    ]
    resp = submit(session, form, {"username": name, "password": HUB_PASSWORD})
    assert resp.status_code == 200 and resp.url == hub.service_url, page_text(resp)
    page = session.get(hub.service_url, timeout=30)
    assert page.status_code == 200 and page.url == hub.service_url, page_text(page)
    return session, page


def test_page_forms_need_the_xsrf_token_and_an_admin(promotion_hub, gitlab_server):
    create_lanes(gitlab_server)
    # uma's page has no buttons; posting the admin form anyway (with her own xsrf token) is 403.
    session, page = browser_login(promotion_hub, USER)
    assert "(read-only)" in page.text and "Run now" not in page.text
    xsrf = session.cookies.get("_xsrf", path="/services/promotion/")
    assert xsrf
    refused = session.post(
        promotion_hub.service_url + "api/run-now",
        timeout=30,
        data={"_xsrf": xsrf, "project": PROJECT, "source": "main"},
    )
    assert refused.status_code == 403 and "uma may not trigger" in refused.json()["message"]

    # ada's page has the buttons; her form posts work, a post without the xsrf token does not.
    session, page = browser_login(promotion_hub, ADMIN)
    [form] = [f for f in parse_forms(page.text, page.url) if f.fields.get("source") == "main"]
    assert form.action == promotion_hub.service_url + "api/run-now" and form.fields["_xsrf"]
    forged = session.post(form.action, data={"project": PROJECT, "source": "main"}, timeout=30)
    assert forged.status_code == 403
    done = submit(session, form)  # main == staging already: the run finds nothing to promote
    assert done.status_code == 200 and done.url.startswith(promotion_hub.service_url + "?message=")
    assert (
        "run of data-science/churn-model main -&gt; staging started" in done.text
        or "run of data-science/churn-model main -> staging started" in done.text
    )
