"""Package governance of a clean run: what the image has installed and what notebooks import.

Pure checks over what the in-container runner reports:

- ``installed``: every distribution in the image (name, version, licence fields), recorded
  as ``pip freeze`` and checked against the package policy: the admin YAML's ``packages:``
  section, by the one check `jupyterhub-ds packages check` and the image build make
  (:func:`jupyterhub_ds.packages.policy.image_problems`), so a clean run refuses an image
  with the same messages; without a policy, the refused licence words (AGPL, SSPL, ...);
- ``imports``: the distributions the notebooks import (the runner maps top-level module
  names to distributions inside the image), checked against the project's allow-list, the
  same meaning as the review allow-list ("packages notebooks may import").
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

from ..packages.inventory import InventoryError, checked_listing
from ..packages.policy import (  # noqa: F401  (licence_text, licence_problems: this module's names before)
    DEFAULT_DENIED_LICENSES,
    PackagePolicy,
    image_problems,
    licence_problems,
    licence_text,
)


def import_problems(imports, allowed):
    """Imported distributions not on the allow-list; ``allowed`` None: no check."""
    if allowed is None:
        return []
    ok = {canonicalize_name(a) for a in allowed}
    problems = []
    for item in imports:
        if canonicalize_name(item["distribution"]) not in ok:
            problems.append(
                f"{item['notebook']} imports {item['module']} (distribution {item['distribution']}), which is not on "
                "the allow-list; add it to allowed_packages or drop the import"
            )
    return problems


def check_packages(installed, imports, allowed=None, denied=DEFAULT_DENIED_LICENSES, policy=None):
    """``policy``: the admin's PackagePolicy (None: refuse the ``denied`` licence words only)."""
    policy = policy if policy is not None else PackagePolicy(denied_licenses=tuple(denied))
    try:
        problems = image_problems(installed, policy)
    except ValueError as e:  # the vulnerability database cannot be read (osv.DatabaseError)
        problems = [f"the package check could not run: {e}"]
    problems += import_problems(imports, allowed)
    return {"status": "ok" if not problems else "failed", "problems": problems, "count": len(installed)}


def check_project(project, outcome):
    """:func:`check_packages` of a clean run's ``outcome`` against ``project``'s settings (its
    allow-list, refused licences and the admin's packages: policy), for promotion and review runs alike."""
    denied = DEFAULT_DENIED_LICENSES if project.denied_licenses is None else project.denied_licenses
    try:  # what the runner reported from inside the container, checked as `packages check` does
        installed = checked_listing(project.image, outcome.installed)
    except InventoryError as e:
        return {"status": "failed", "problems": [str(e)], "count": 0}
    return check_packages(installed, outcome.imports, project.allowed_packages, denied, policy=project.package_policy)


def pip_freeze(installed):
    """``name==version`` lines sorted by name, like ``pip freeze``."""
    return "\n".join(
        f"{d['name']}=={d['version']}" for d in sorted(installed, key=lambda d: canonicalize_name(d["name"]))
    )
