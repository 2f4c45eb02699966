"""Who sees which project's promotion history (pure)."""

import pytest

from jupyterhub_ds.promotion.web import visible_projects

pytestmark = pytest.mark.unit

PROJECTS = ["data-science/churn-model", "data-science/vision/detector", "ml/forecast"]


@pytest.mark.parametrize(
    "groups, admin, expected",
    [
        ([], True, set(PROJECTS)),
        ([], False, set()),
        (["data-science"], False, {"data-science/churn-model", "data-science/vision/detector"}),
        (["data-science/vision"], False, {"data-science/vision/detector"}),
        # a subgroup member is not a member of the parent namespace (GitLab's rule)
        (["data-science/analysts"], False, set()),
        (["ml", "marketing"], False, {"ml/forecast"}),
        (["data-science-old"], False, set()),
    ],
)
def test_users_see_the_projects_of_their_namespaces(groups, admin, expected):
    assert visible_projects({"name": "u", "groups": groups}, PROJECTS, admin) == expected
