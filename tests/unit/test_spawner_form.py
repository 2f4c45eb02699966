"""ProfileDockerSpawner's form -> parse -> apply in process, on JupyterHub's own objects: an
in-memory hub database made as ``jupyterhub.tests`` makes it (``MockHub.init_db``), a real
``jupyterhub.user.User`` whose groups are ORM groups (what the authenticator syncs from
GitLab), and the spawner made by ``User._new_spawner`` from the admin YAML's config.

No Docker is asked: ``load_user_options`` and ``hardened_settings`` are the spawner's own
steps. The real spawns (containers, limits, isolation) are tests/integration/test_sandbox_spawn.py.
"""

from __future__ import annotations

import pytest
from jupyterhub import orm
from jupyterhub.tests.mocking import MockHub
from jupyterhub.user import User
from tornado import web

from jupyterhub_ds.config import load_config
from jupyterhub_ds.spawner.container import HardeningConflict
from jupyterhub_ds.spawner.docker import ProfileDockerSpawner

pytestmark = pytest.mark.unit

ENV = {"GITLAB_CLIENT_SECRET": "not-a-real-secret", "JUPYTERHUB_CRYPT_KEY": "00" * 32}
ADMIN_YAML = """\
gitlab:
  url: https://gitlab.example.com
  client_id: 0123456789abcdef
auth:
  allowed_groups: [data-science]
profiles:
  - slug: small
    display_name: Small
    default: true
    cpu_limit: 1
    mem_limit: 2G
  - slug: large
    display_name: Large
    cpu_limit: 8
    mem_limit: 32G
    pids_limit: 2048
    idle_timeout: 3600
    images: [jupyterhub-ds/singleuser:latest, jupyterhub-ds/singleuser-scipy:latest]
    allowed_groups: [data-science/power-users]
    environment: {TEAM: power}
workspace:
  projects:
    - path: data-science/notebooks
      groups: [data-science/power-users]
images:
  default: jupyterhub-ds/singleuser:latest
  allowed: [jupyterhub-ds/singleuser:latest, jupyterhub-ds/singleuser-scipy:latest]
"""


@pytest.fixture(scope="module")
def hub_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("admin") / "jupyterhub_ds.yaml"
    path.write_text(ADMIN_YAML)
    return load_config(path, ENV)


@pytest.fixture
def db():
    """The hub database as JupyterHub's tests make it (jupyterhub/tests/conftest.py ``db``)."""
    hub = MockHub(db_url="sqlite:///:memory:")
    hub.init_db()
    yield hub.db
    hub.db.close()


@pytest.fixture
def spawner_for(db, hub_config):
    def make(name, groups=(), **traits):
        orm_user = orm.User(name=name)
        db.add(orm_user)
        for group in groups:
            orm_user.groups.append(orm.Group(name=group))
        db.commit()
        user = User(orm_user, {"config": hub_config})
        return user._new_spawner("", spawner_class=ProfileDockerSpawner, config=hub_config, **traits)

    return make


def offered(form_html):
    """(profile slugs offered, the one checked) of the rendered form."""
    from bs4 import BeautifulSoup

    radios = BeautifulSoup(form_html, "html.parser").select("input[name=profile]")
    return [r["value"] for r in radios], [r["value"] for r in radios if r.has_attr("checked")]


@pytest.mark.parametrize(
    "groups, slugs",
    [
        ([], ["small"]),
        (["data-science/power-users"], ["small", "large"]),
        (["data-science"], ["small"]),  # a member of the parent is not a member of the subgroup
    ],
)
def test_the_form_offers_the_profiles_of_the_users_groups(spawner_for, groups, slugs):
    spawner = spawner_for("alice", groups)
    assert offered(spawner._render_options_form(spawner)) == (slugs, ["small"])


def test_the_form_escapes_what_the_admin_wrote(spawner_for, hub_config):
    spawner = spawner_for("alice")
    spawner.profiles = [dict(p, display_name="<script>x</script>") for p in spawner.profiles]
    assert "<script>x</script>" not in spawner._render_options_form(spawner)


@pytest.mark.parametrize(
    "groups, form, options, status",
    [
        (["data-science/power-users"], {"profile": ["large"]}, {"profile": "large"}, None),
        (
            ["data-science/power-users"],
            {"profile": ["large"], "image-large": ["jupyterhub-ds/singleuser-scipy:latest"]},
            {"profile": "large", "image": "jupyterhub-ds/singleuser-scipy:latest"},
            None,
        ),
        ([], {}, {}, None),  # nothing chosen: the default profile at start
        ([], {"profile": ["large"]}, None, 403),  # not in the profile's groups
        (["data-science/power-users"], {"profile": ["huge"]}, None, 400),
        (["data-science/power-users"], {"profile": ["large"], "image-large": ["evil/image:1"]}, None, 400),
    ],
)
def test_form_fields_parse_into_user_options_or_are_refused(spawner_for, groups, form, options, status):
    spawner = spawner_for("alice", groups)
    if status is None:
        assert spawner.options_from_form(form) == options
    else:
        with pytest.raises(web.HTTPError) as refused:
            spawner.options_from_form(form)
        assert refused.value.status_code == status


def test_apply_sets_the_profile_limits_mounts_environment_and_arguments(spawner_for):
    spawner = spawner_for("alice", ["data-science/power-users"])
    spawner.user_options = {"profile": "large", "image": "jupyterhub-ds/singleuser-scipy:latest"}
    spawner.environment = {"ADMINS_OWN": "kept"}
    resolved = spawner.load_user_options()
    assert resolved.slug == "large"
    # dockerspawner checks the image against allowed_images (a dict once set): the profile's choice only
    assert (spawner.image, list(spawner.allowed_images)) == (
        "jupyterhub-ds/singleuser-scipy:latest",
        ["jupyterhub-ds/singleuser-scipy:latest"],
    )
    assert (spawner.cpu_limit, spawner.mem_limit) == (8, 32 * 1024**3)
    assert spawner.environment["TEAM"] == "power" and spawner.environment["JUPYTERHUB_DS_PROFILE"] == "large"
    assert spawner.environment["ADMINS_OWN"] == "kept"
    assert '"data-science/notebooks"' in spawner.environment["JUPYTERHUB_DS_WORKSPACE"]
    assert "--ServerApp.shutdown_no_activity_timeout=3600" in spawner.args
    assert spawner.volumes["jupyterhub-ds-home-{username}"] == {"bind": "/home/jovyan", "mode": "rw"}

    # another start with another profile: what the last one set goes, the admin's stays
    spawner.user_options = {"profile": "small"}
    spawner.load_user_options()
    assert "TEAM" not in spawner.environment and spawner.environment["ADMINS_OWN"] == "kept"
    assert not [a for a in spawner.args if "shutdown_no_activity_timeout" in a]
    assert (spawner.cpu_limit, spawner.mem_limit) == (1, 2 * 1024**3)


def test_options_through_the_rest_api_are_checked_again_at_start(spawner_for):
    spawner = spawner_for("alice")  # in no group
    spawner.user_options = {"profile": "large"}
    with pytest.raises(web.HTTPError) as refused:
        spawner.load_user_options()
    assert refused.value.status_code == 403 and "data-science/power-users" in refused.value.log_message


@pytest.mark.parametrize(
    "admin_host, check",
    [
        (
            {},
            lambda host: (
                host["cap_drop"] == ["ALL"]
                and host["security_opt"] == ["no-new-privileges:true"]
                and host["pids_limit"] == 2048
                and host["memswap_limit"] == 32 * 1024**3
            ),
        ),
        (
            {"pids_limit": 100, "dns": ["10.0.0.2"]},
            lambda host: host["pids_limit"] == 100 and host["dns"] == ["10.0.0.2"],
        ),
        ({"pids_limit": 100000}, lambda host: host["pids_limit"] == 2048),  # the stricter limit holds
        ({"privileged": True}, HardeningConflict),
        ({"cap_add": ["SYS_ADMIN"]}, HardeningConflict),
        ({"network_mode": "host"}, HardeningConflict),
    ],
)
async def test_hardening_merges_with_the_admins_host_config(spawner_for, admin_host, check):
    spawner = spawner_for("alice", ["data-science/power-users"], extra_host_config=admin_host)
    spawner.user_options = {"profile": "large"}
    spawner.load_user_options()
    if check is HardeningConflict:
        with pytest.raises(HardeningConflict):
            await spawner.hardened_settings()
        return
    host, create = await spawner.hardened_settings()
    assert check(host), host
    assert create == {
        "user": "1000",
        "labels": {
            "org.jupyterhub-ds.user": "alice",
            "org.jupyterhub-ds.profile": "large",
            "org.jupyterhub-ds.server": "",
        },
    }


async def test_every_container_is_labelled_with_its_user_and_profile_and_keeps_the_admins_labels(spawner_for):
    # doctor and the hub's resource metrics find users' containers by these labels
    spawner = spawner_for(
        "alice", extra_create_kwargs={"labels": {"team": "analytics", "org.jupyterhub-ds.user": "mallory"}}
    )
    spawner.user_options = {"profile": "small"}
    spawner.load_user_options()
    _, create = await spawner.hardened_settings()
    assert create["labels"] == {
        "team": "analytics",
        "org.jupyterhub-ds.user": "alice",
        "org.jupyterhub-ds.profile": "small",
        "org.jupyterhub-ds.server": "",
    }
