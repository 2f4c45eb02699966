"""Test-suite wide rules.

Every test carries exactly one of the markers ``unit``, ``integration`` or ``e2e`` (see
pyproject.toml). A run that selects no test fails (pytest exits 5, and ``.ci/run``
treats that as failure), and a full run (no ``-m``/``-k``/node ids) must select at least
one test of each kind, so a whole layer cannot silently vanish from CI.
"""

import pytest

KINDS = ("unit", "integration", "e2e")

# Shared fixtures live in tests/fixtures/; each module registers its own fixtures.
pytest_plugins = [
    name
    for name in (
        "tests.fixtures.gitlab",
        "tests.fixtures.hub",
        "tests.fixtures.browser",
        "tests.fixtures.docker",
        "tests.fixtures.sandbox",
        "tests.fixtures.postgres",
        "tests.fixtures.swarm_hub",
    )
    if __import__("importlib.util").util.find_spec(name) is not None
]


def pytest_collection_modifyitems(config, items):
    wrong = []
    for item in items:
        kinds = [k for k in KINDS if item.get_closest_marker(k)]
        if len(kinds) != 1:
            wrong.append(f"{item.nodeid}: has markers {kinds or 'none'}; needs exactly one of {KINDS}")
    if wrong:
        raise pytest.UsageError("tests without exactly one kind marker:\n  " + "\n  ".join(wrong))
    # Fast feedback first, and browser tests last: Playwright's sync API keeps an event loop
    # running while it is open, which must not overlap asyncio-based tests.
    order = {k: i for i, k in enumerate(KINDS)}
    items.sort(key=lambda item: next(order[k] for k in KINDS if item.get_closest_marker(k)))


def pytest_collection_finish(session):
    config = session.config
    full_run = (
        not config.option.markexpr
        and not config.option.keyword
        and all(arg.rstrip("/") in ("tests", str(config.rootpath / "tests")) for arg in config.args)
    )
    if not full_run:
        return
    counts = {k: sum(1 for i in session.items if i.get_closest_marker(k)) for k in KINDS}
    missing = [k for k, n in counts.items() if n == 0]
    if missing:
        raise pytest.UsageError(f"a full run selected no {', '.join(missing)} test; counts: {counts}")
