"""Shared fixtures live in tests/support/, one module per concern."""

pytest_plugins = [
    "tests.support.hub_fixtures",
    "tests.support.git_fixtures",
]
