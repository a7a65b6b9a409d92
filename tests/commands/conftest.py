"""Commands run against a real migrated database of each backend (the models' fixtures)."""

from tests.models.conftest import engine, session  # noqa: F401  (fixtures)
