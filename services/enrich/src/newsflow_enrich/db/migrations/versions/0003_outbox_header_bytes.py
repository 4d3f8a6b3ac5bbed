"""outbox headers stored as the bytes sent

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('outbox', sa.Column('header_names', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False))
    op.add_column('outbox', sa.Column('header_values', postgresql.ARRAY(sa.LargeBinary()), server_default=sa.text("'{}'::bytea[]"), nullable=False))
    # Existing rows: the JSONB pairs held each value decoded as UTF-8; encode them back.
    op.execute(
        """
        UPDATE outbox SET
          header_names = coalesce(ARRAY(
            SELECT h ->> 0 FROM jsonb_array_elements(headers) WITH ORDINALITY AS t(h, i)
            ORDER BY i), '{}'),
          header_values = coalesce(ARRAY(
            SELECT convert_to(h ->> 1, 'UTF8')
            FROM jsonb_array_elements(headers) WITH ORDINALITY AS t(h, i) ORDER BY i), '{}')
        """
    )
    op.drop_column('outbox', 'headers')


def downgrade() -> None:
    op.add_column('outbox', sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False))
    op.execute(
        """
        UPDATE outbox SET headers = coalesce((
          SELECT jsonb_agg(jsonb_build_array(n, convert_from(v, 'UTF8')) ORDER BY i)
          FROM unnest(header_names, header_values) WITH ORDINALITY AS t(n, v, i)), '[]'::jsonb)
        """
    )
    op.alter_column('outbox', 'headers', server_default=None)
    op.drop_column('outbox', 'header_values')
    op.drop_column('outbox', 'header_names')
