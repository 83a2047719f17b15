"""The hub's route handlers by category; importing this package registers every route."""

# The first matching route wins, so the import order is the registration order: it is kept as it was in the
# single-module server (e.g. GET .../issues/comments/labels is get-comment, not list-labels-on-issue).
# ruff: noqa: I001
from . import users, repos, issues, labels, pulls, reactions, checks, actions, admin  # noqa: F401
