"""trend rankings: the entity's label in entity_trends, sorted-access and covering indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUSY = sa.text("(grain = 'hour' AND articles >= 4) OR (grain = 'day' AND articles >= 16)")


def upgrade() -> None:
    # Dropped first, so the backfill does not maintain them row by row. Every step may run
    # again: the indexes are built after a commit (below), and a failure there leaves the
    # revision at 0005.
    op.drop_index('ix_entity_trends_busy', table_name='entity_trends', postgresql_where=BUSY, if_exists=True)
    op.drop_index('ix_entity_trends_entity', table_name='entity_trends', if_exists=True)
    op.drop_index('ix_stance_trends_target', table_name='stance_trends', if_exists=True)
    op.add_column('entity_trends', sa.Column('label', sa.String(length=32), nullable=True), if_not_exists=True)
    op.execute(
        "UPDATE entity_trends t SET label = e.label FROM entities e"
        " WHERE e.entity_id = t.entity_id AND t.label IS NULL"
    )
    op.alter_column('entity_trends', 'label', nullable=False)
    # Inside the backfill's transaction an index would hold every row twice, the old
    # version and the new; once it committed, the old versions are dead and left out.
    with op.get_context().autocommit_block():
        op.create_index('ix_entity_trends_series', 'entity_trends', ['grain', 'entity_id', 'bucket'], unique=False, postgresql_include=['articles', 'mentions'], if_not_exists=True)
        op.create_index('ix_entity_trends_rank', 'entity_trends', ['grain', 'bucket', sa.text('articles DESC'), 'entity_id'], unique=False, postgresql_include=['mentions'], if_not_exists=True)
        op.create_index('ix_entity_trends_label_rank', 'entity_trends', ['grain', 'label', 'bucket', sa.text('articles DESC'), 'entity_id'], unique=False, postgresql_include=['mentions'], if_not_exists=True)
        op.create_index('ix_stance_trends_target', 'stance_trends', ['grain', 'target', 'bucket'], unique=False, postgresql_include=['holder', 'label', 'stances', 'score_sum'], if_not_exists=True)
        op.create_index('ix_stance_trends_holder', 'stance_trends', ['grain', 'target', 'holder', 'bucket'], unique=False, postgresql_include=['label', 'stances', 'score_sum'], if_not_exists=True)
        op.create_index('ix_speaker_trends_window', 'speaker_trends', ['grain', 'bucket'], unique=False, postgresql_include=['speaker', 'quotes'], if_not_exists=True)
        # The ranking reads these indexes alone once the visibility map says so.
        op.execute("VACUUM ANALYZE entity_trends")


def downgrade() -> None:
    op.drop_index('ix_speaker_trends_window', table_name='speaker_trends')
    op.drop_index('ix_stance_trends_holder', table_name='stance_trends')
    op.drop_index('ix_stance_trends_target', table_name='stance_trends')
    op.drop_index('ix_entity_trends_label_rank', table_name='entity_trends')
    op.drop_index('ix_entity_trends_rank', table_name='entity_trends')
    op.drop_index('ix_entity_trends_series', table_name='entity_trends')
    op.drop_column('entity_trends', 'label')
    op.create_index('ix_stance_trends_target', 'stance_trends', ['grain', 'target', 'bucket'], unique=False)
    op.create_index('ix_entity_trends_entity', 'entity_trends', ['grain', 'entity_id', 'bucket'], unique=False)
    op.create_index('ix_entity_trends_busy', 'entity_trends', ['grain', 'bucket', 'entity_id'], unique=False, postgresql_where=BUSY)
