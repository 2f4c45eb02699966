"""Package governance checks the schema cannot express (pure): each allowed entry a name with a
version range, no package listed twice, no licence word both allowed and denied. The checks
that read files (the lock, the advisories, what review.allowed_packages names against the
policy) are the loader's."""

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .problems import Problem, show


def check_packages(config):
    section = config["packages"]
    problems = []
    first = {}
    for i, entry in enumerate(section["allowed"] or ()):
        here = ("packages", "allowed", i)
        try:
            req = Requirement(entry)
        except InvalidRequirement as e:
            reason = str(e).splitlines()[0]
            problems.append(
                Problem(
                    here,
                    f"{show(entry)} is not a package name with an optional version range "
                    f"({reason}); write it like numpy>=1.26,<3 or pandas",
                )
            )
            continue
        if req.url or req.marker or req.extras:
            problems.append(
                Problem(
                    here,
                    f"{show(entry)} has extras, an environment marker or a URL; give only the "
                    "name and a version range, like numpy>=1.26,<3",
                )
            )
            continue
        name = canonicalize_name(req.name)
        if name in first:
            problems.append(
                Problem(
                    here,
                    f"lists {name} again (also packages.allowed[{first[name]}]); give one entry "
                    "with the whole range, like numpy>=1.26,<3",
                )
            )
        else:
            first[name] = i
    both = sorted(
        {w.lower() for w in section["allowed_licenses"] or ()} & {w.lower() for w in section["denied_licenses"]}
    )
    if both:
        problems.append(
            Problem(
                ("packages", "allowed_licenses"),
                f"{', '.join(both)} is also in denied_licenses; remove it from one of the two lists",
            )
        )
    return problems
