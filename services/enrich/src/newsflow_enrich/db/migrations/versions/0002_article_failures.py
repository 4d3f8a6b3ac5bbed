"""article failures and outbox rows set aside

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('article_failures',
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='1', nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('raw_event_id', sa.UUID(), nullable=True),
    sa.Column('source_topic', sa.Text(), nullable=True),
    sa.Column('source_partition', sa.Integer(), nullable=True),
    sa.Column('source_offset', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("stage IN ('decode', 'nlp', 'database', 'publish')", name=op.f('ck_article_failures_stage')),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_article_failures'))
    )
    op.create_index('ix_article_failures_failed_at_article_id', 'article_failures', ['failed_at', 'article_id'], unique=False)
    op.create_index('ix_article_failures_reason', 'article_failures', ['reason'], unique=False)
    op.add_column('outbox', sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('failure', sa.Text(), nullable=True))
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text('published_at IS NULL'))
    op.create_index('ix_outbox_pending', 'outbox', ['id'], unique=False, postgresql_where=sa.text('published_at IS NULL AND failed_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text('published_at IS NULL AND failed_at IS NULL'))
    op.create_index('ix_outbox_pending', 'outbox', ['id'], unique=False, postgresql_where=sa.text('published_at IS NULL'))
    op.drop_column('outbox', 'failure')
    op.drop_column('outbox', 'failed_at')
    op.drop_index('ix_article_failures_reason', table_name='article_failures')
    op.drop_index('ix_article_failures_failed_at_article_id', table_name='article_failures')
    op.drop_table('article_failures')
