"""The central server: FastAPI over SQLAlchemy (SQLite by default, PostgreSQL in production)."""

from desktop_care.models import load_all as _load_all_models

# The server works on every table: its mappers and ``Base.metadata`` know them all.
_load_all_models()
