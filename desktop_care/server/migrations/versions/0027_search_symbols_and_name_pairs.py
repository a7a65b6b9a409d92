"""Member search without slow terms (decision 0038): a (first_key, last_key) index for
queries of two short words (``n wo``: a first-name range checked against the last name
in the same index entry), and on PostgreSQL a second trigram index over the search text
with the characters pg_trgm drops (``@ . _ - + ' %``) made letters, so that ``a_b`` and
``n@example.`` look up trigrams that hold their symbols; on SQLite an index on the e-mail
domain (the key from its "@" on), which counts ``@example.org`` without reading rows.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies (a migration must not change when the code does): the symbols and the
# letters they become are those of desktop_care.models.search.SYMBOLS / SYMBOL_LETTERS.
_SYMBOLS_KEPT = "translate(text, '@._-+''%', 'àáâãäåè')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_member_search_first_last ON member_search "
                   "(first_key text_pattern_ops, last_key text_pattern_ops)")
        op.execute("SET LOCAL maintenance_work_mem = '256MB'")
        op.execute(f"CREATE INDEX ix_member_search_symbols_trgm ON member_search USING gin ({_SYMBOLS_KEPT} gin_trgm_ops)")
    else:
        op.execute("CREATE INDEX ix_member_search_first_last ON member_search (first_key, last_key)")
        op.execute("CREATE INDEX ix_member_search_email_domain ON member_search (substr(email_key, instr(email_key, '@')))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_member_search_symbols_trgm")
    else:
        op.execute("DROP INDEX ix_member_search_email_domain")
    op.execute("DROP INDEX ix_member_search_first_last")
