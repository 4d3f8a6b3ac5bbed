"""trend rollups: entity mentions, stances and quoted speakers per hour and day

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('entity_trends',
    sa.Column('grain', sa.String(length=4), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('mentions', sa.Integer(), nullable=False),
    sa.Column('articles', sa.Integer(), nullable=False),
    sa.CheckConstraint("grain IN ('hour', 'day')", name=op.f('ck_entity_trends_grain')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.entity_id'], name=op.f('fk_entity_trends_entity_id_entities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('grain', 'bucket', 'entity_id', name=op.f('pk_entity_trends'))
    )
    op.create_index('ix_entity_trends_entity', 'entity_trends', ['grain', 'entity_id', 'bucket'], unique=False)
    op.create_index('ix_entity_trends_busy', 'entity_trends', ['grain', 'bucket', 'entity_id'], unique=False, postgresql_where=sa.text("(grain = 'hour' AND articles >= 4) OR (grain = 'day' AND articles >= 16)"))
    op.create_table('stance_trends',
    sa.Column('grain', sa.String(length=4), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('holder', sa.Text(), nullable=False),
    sa.Column('label', sa.String(length=16), nullable=False),
    sa.Column('stances', sa.Integer(), nullable=False),
    sa.Column('score_sum', sa.Float(), nullable=False),
    sa.CheckConstraint("grain IN ('hour', 'day')", name=op.f('ck_stance_trends_grain')),
    sa.PrimaryKeyConstraint('grain', 'bucket', 'target', 'holder', 'label', name=op.f('pk_stance_trends'))
    )
    op.create_index('ix_stance_trends_target', 'stance_trends', ['grain', 'target', 'bucket'], unique=False)
    op.create_table('speaker_trends',
    sa.Column('grain', sa.String(length=4), nullable=False),
    sa.Column('bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('speaker', sa.Text(), nullable=False),
    sa.Column('quotes', sa.Integer(), nullable=False),
    sa.CheckConstraint("grain IN ('hour', 'day')", name=op.f('ck_speaker_trends_grain')),
    sa.PrimaryKeyConstraint('grain', 'bucket', 'speaker', name=op.f('pk_speaker_trends'))
    )


def downgrade() -> None:
    op.drop_table('speaker_trends')
    op.drop_index('ix_stance_trends_target', table_name='stance_trends')
    op.drop_table('stance_trends')
    op.drop_index('ix_entity_trends_busy', table_name='entity_trends', postgresql_where=sa.text("(grain = 'hour' AND articles >= 4) OR (grain = 'day' AND articles >= 16)"))
    op.drop_index('ix_entity_trends_entity', table_name='entity_trends')
    op.drop_table('entity_trends')
