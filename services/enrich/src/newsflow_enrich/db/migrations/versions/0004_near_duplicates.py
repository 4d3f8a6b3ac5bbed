"""near-duplicate fingerprints and LSH bands

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('article_fingerprints',
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.Column('shingle_count', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.UUID(), nullable=False),
    sa.Column('duplicate_of', sa.UUID(), nullable=True),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.article_id'], name=op.f('fk_article_fingerprints_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_article_fingerprints'))
    )
    op.create_index('ix_article_fingerprints_cluster_id', 'article_fingerprints', ['cluster_id'], unique=False)
    op.create_table('article_bands',
    sa.Column('band_key', sa.BigInteger(), nullable=False),
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['article_fingerprints.article_id'], name=op.f('fk_article_bands_article_id_article_fingerprints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('band_key', 'article_id', name=op.f('pk_article_bands'))
    )
    op.create_index('ix_article_bands_article_id', 'article_bands', ['article_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_article_bands_article_id', table_name='article_bands')
    op.drop_table('article_bands')
    op.drop_index('ix_article_fingerprints_cluster_id', table_name='article_fingerprints')
    op.drop_table('article_fingerprints')
