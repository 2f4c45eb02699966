"""The package policy's one check (allow-list with version ranges, licences, known
vulnerabilities from an offline OSV database), and how the admin YAML, the review import
allow-list and the promotion clean run use it."""

from __future__ import annotations

import json
import zipfile

import pytest

from jupyterhub_ds.config import check_file, load_config
from jupyterhub_ds.config.loader import allowed_packages, package_policy
from jupyterhub_ds.packages import osv
from jupyterhub_ds.packages.policy import PackagePolicy, check_installed, image_problems, parse_allowed
from jupyterhub_ds.promotion.packages import check_packages
from jupyterhub_ds.promotion.settings import parse_project

pytestmark = pytest.mark.unit


def dist(name, version, license="MIT", expression="", classifiers=()):
    return {
        "name": name,
        "version": version,
        "license": license,
        "license_expression": expression,
        "classifiers": list(classifiers),
    }


IMAGE = [
    dist("numpy", "2.1.0", license="BSD-3-Clause"),
    dist("pandas", "2.2.3", license="BSD"),
    dist("requests", "2.31.0", license="Apache-2.0"),
    dist("mystery", "0.1", license=""),
    dist(
        "ghostscript-py",
        "1.0",
        license="",
        classifiers=["License :: OSI Approved :: GNU Affero General Public License v3"],
    ),
    dist("pip", "24.0"),
    dist("jupyterhub-ds", "0.1.0", license="BSD-3-Clause"),
]


def test_the_allow_list_refuses_what_it_does_not_name_and_versions_outside_their_range():
    allowed = parse_allowed(["numpy>=1.26,<2", "Pandas", "ghostscript_py"], {"requests": "2.31.0", "numpy": "2.1.0"})
    assert allowed == {"numpy": "<2,>=1.26", "pandas": "", "ghostscript-py": "", "requests": "==2.31.0"}
    problems = check_installed(IMAGE, PackagePolicy(allowed=allowed, denied_licenses=()))
    assert problems == [
        "mystery 0.1 is not on the package allow-list (packages.allowed, packages.allowed_lock); remove it from the "
        "image or allow it there",
        "numpy 2.1.0 is outside the allowed versions <2,>=1.26 (packages.allowed, packages.allowed_lock); install a "
        "version in that range or change it",
    ]  # pip and jupyterhub-ds: the image's own installer and the project, always allowed


def test_licences_refused_by_word_or_not_among_the_allowed_ones():
    assert check_installed(IMAGE, PackagePolicy()) == [
        "ghostscript-py 1.0 is licensed 'License :: OSI Approved :: GNU Affero General Public License v3', which "
        "matches the refused licence 'Affero'; remove it from the image or take 'Affero' out of denied_licenses"
    ]
    problems = check_installed(IMAGE, PackagePolicy(allowed_licenses=("MIT", "BSD", "Apache"), denied_licenses=()))
    assert [p.split(" ")[0] for p in problems] == ["ghostscript-py", "mystery"]
    assert "has no licence in its metadata" in problems[1]


def osv_file(folder, name, advisory):
    (folder / f"{name}.json").write_text(json.dumps(advisory))


ADVISORIES = {
    "GHSA-aaaa-bbbb-cccc": {
        "id": "GHSA-aaaa-bbbb-cccc",
        "aliases": ["CVE-2024-0001", "PYSEC-2024-1"],
        "summary": "Requests leaks headers",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.32.0"}]}],
            }
        ],
    },
    "PYSEC-2023-9": {  # listed versions only
        "id": "PYSEC-2023-9",
        "aliases": [],
        "summary": "",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "pandas"}, "versions": ["2.2.3", "2.2.2"]}],
    },
    "GHSA-numpy-old": {  # numpy before 1.22 only
        "id": "GHSA-numpy-old",
        "summary": "old numpy",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "numpy"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.22.0"}]}],
            }
        ],
    },
    "GHSA-npm-requests": {  # another ecosystem's package of the same name
        "id": "GHSA-npm-requests",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "requests"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
            }
        ],
    },
}


@pytest.mark.parametrize(
    "events, version, affected",
    [
        ([{"introduced": "0"}, {"fixed": "1.22.0"}], "1.21.9", True),
        ([{"introduced": "0"}, {"fixed": "1.22.0"}], "1.22.0", False),
        ([{"introduced": "1.0"}, {"last_affected": "1.4"}], "1.4", True),
        ([{"introduced": "1.0"}, {"last_affected": "1.4"}], "1.4.1", False),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}], "1.5", False),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"}], "3.0", True),
        ([{"fixed": "1.2"}, {"introduced": "1.0"}], "1.1", True),  # events in any order
    ],
)
def test_osv_range_evaluation(events, version, affected):
    from packaging.version import Version

    assert osv.in_range(Version(version), events) is affected


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "all.zip"])
def test_vulnerabilities_from_an_offline_osv_database_name_the_advisory_and_its_aliases(tmp_path, as_zip):
    folder = tmp_path / "osv"
    folder.mkdir()
    for name, advisory in ADVISORIES.items():
        osv_file(folder, name, advisory)
    (folder / "README.txt").write_text("not an advisory")
    path = folder
    if as_zip:
        path = tmp_path / "all.zip"
        with zipfile.ZipFile(path, "w") as z:
            for f in folder.iterdir():
                z.write(f, f.name)
    policy = PackagePolicy(denied_licenses=(), vulnerability_database=str(path))
    assert image_problems(IMAGE, policy) == [
        "pandas 2.2.3 has the known vulnerability PYSEC-2023-9; remove it (no fixed version is known), or list "
        "PYSEC-2023-9 in packages.ignored_advisories",
        "requests 2.31.0 has the known vulnerability GHSA-aaaa-bbbb-cccc (CVE-2024-0001, PYSEC-2024-1): Requests "
        "leaks headers; upgrade to 2.32.0, or list GHSA-aaaa-bbbb-cccc in packages.ignored_advisories",
    ]
    ignoring = PackagePolicy(
        denied_licenses=(), vulnerability_database=str(path), ignored_advisories=("cve-2024-0001", "PYSEC-2023-9")
    )  # an alias is enough
    assert image_problems(IMAGE, ignoring) == []


def test_an_unreadable_database_is_named():
    with pytest.raises(osv.DatabaseError, match="cannot read the vulnerability database /no/such"):
        osv.load("/no/such")


ADMIN = """\
gitlab: {url: https://gitlab.example.com, client_id: x}
auth: {allowed_groups: [g]}
profiles: [{slug: s}]
promotion:
  projects:
    - path: g/p
      image: jupyterhub-ds/singleuser:1.0
      notebooks: [a.ipynb]
      lanes: [{from: main, to: staging, schedule: '0 2 * * *'}]
"""
ENV = {"GITLAB_CLIENT_SECRET": "s", "JUPYTERHUB_CRYPT_KEY": "00" * 32, "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN": "t"}


def test_the_admin_yaml_policy_reaches_the_promotion_clean_run_and_the_review_imports(tmp_path):
    (tmp_path / "image.lock").write_text("requests==2.31.0\nnumpy==2.1.0\n")
    (tmp_path / "osv").mkdir()
    path = tmp_path / "jupyterhub_ds.yaml"
    path.write_text(
        ADMIN + "packages:\n  allowed: ['numpy>=1.26,<3', pandas]\n  allowed_lock: image.lock\n"
        "  allowed_licenses: [MIT, BSD]\n  vulnerability_database: osv\n"
        "  ignored_advisories: [CVE-2024-0001]\n"
    )
    lines, config = check_file(path)
    assert lines == []
    policy = package_policy(config, str(tmp_path))
    assert policy.allowed == {"requests": "==2.31.0", "numpy": "<3,>=1.26", "pandas": ""}
    assert policy.vulnerability_database == str(tmp_path / "osv")
    # review lists nothing of its own: notebooks may import what the images may hold
    assert allowed_packages(config, str(tmp_path)) == ["numpy", "pandas", "requests"]
    c = load_config(path, ENV)
    settings = json.loads(c.JupyterHub.services[0]["environment"]["JUPYTERHUB_DS_PROMOTION_CONFIG"])
    project = parse_project(settings["projects"][0])
    assert project.package_policy == policy
    assert c.ProfileSpawnerMixin.review_policy["allowed_packages"] == ["numpy", "pandas", "requests"]


def test_the_clean_run_refuses_with_the_messages_of_the_package_check():
    policy = PackagePolicy(allowed={"numpy": "", "pandas": ""})
    imports = [{"notebook": "a.ipynb", "module": "pandas", "distribution": "pandas"}]
    result = check_packages(IMAGE, imports, ["pandas"], policy=policy)
    assert result["status"] == "failed"
    assert result["problems"] == check_installed(IMAGE, policy)
    assert check_packages(IMAGE[:3], imports, ["pandas"]) == {"status": "ok", "problems": [], "count": 3}
