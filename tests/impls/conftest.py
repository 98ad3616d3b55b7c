"""tests/impls: the Keras-backend suites (tests/keras_backend_suites.py) run beside this
folder's other tests, and their tests wait for them at the end of the session."""

from __future__ import annotations

import pytest

from tests.keras_backend_suites import SUITE_TEST, SUITES


def pytest_collection_modifyitems(items):
    last = [item for item in items if SUITE_TEST in item.nodeid]
    items[:] = [item for item in items if SUITE_TEST not in item.nodeid] + last


def pytest_runtest_setup(item):
    """Start the suites once every test left to run is in this folder (numerics only)."""
    items = item.session.items
    rest = items[items.index(item) :]
    if all(other.path.is_relative_to(item.path.parent) for other in rest):
        SUITES.start([other.callspec.params["framework"] for other in rest if SUITE_TEST in other.nodeid])


def pytest_sessionfinish():
    SUITES.stop()


@pytest.fixture(scope="session")
def keras_backend_suites():
    return SUITES
