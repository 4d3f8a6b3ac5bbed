"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 16:26:02.087624
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('articles',
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('canonical_url', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('authors', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('tags', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('original_format', sa.String(length=8), nullable=True),
    sa.Column('raw_event_id', sa.UUID(), nullable=False),
    sa.Column('enriched_event_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='enriched', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enriched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('tone', sa.Float(), nullable=True),
    sa.Column('tone_positive', sa.Float(), nullable=True),
    sa.Column('tone_negative', sa.Float(), nullable=True),
    sa.Column('tone_polarity', sa.Float(), nullable=True),
    sa.Column('models', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.CheckConstraint("status IN ('queued', 'enriched')", name=op.f('ck_articles_status')),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_articles'))
    )
    op.create_index('ix_articles_canonical_url', 'articles', ['canonical_url'], unique=False)
    op.create_index('ix_articles_received_at_article_id', 'articles', ['received_at', 'article_id'], unique=False)
    op.create_table('entities',
    sa.Column('entity_id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('entity_id', name=op.f('pk_entities')),
    sa.UniqueConstraint('name', 'label', name='uq_entities_name_label')
    )
    op.create_index('ix_entities_lower_name', 'entities', [sa.literal_column('lower(name)')], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_event_id'))
    )
    op.create_index('ix_outbox_article_id', 'outbox', ['article_id'], unique=False)
    op.create_index('ix_outbox_pending', 'outbox', ['id'], unique=False, postgresql_where=sa.text('published_at IS NULL'))
    op.create_table('article_entities',
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('mention_count', sa.Integer(), nullable=False),
    sa.Column('salience', sa.Float(), nullable=False),
    sa.Column('mentions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.article_id'], name=op.f('fk_article_entities_article_id_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.entity_id'], name=op.f('fk_article_entities_entity_id_entities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'entity_id', name=op.f('pk_article_entities'))
    )
    op.create_index('ix_article_entities_entity_id', 'article_entities', ['entity_id'], unique=False)
    op.create_table('quotes',
    sa.Column('quote_id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('start_char', sa.Integer(), nullable=False),
    sa.Column('end_char', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('speaker', sa.Text(), nullable=True),
    sa.Column('speaker_entity', sa.Text(), nullable=True),
    sa.Column('speaker_start', sa.Integer(), nullable=True),
    sa.Column('speaker_end', sa.Integer(), nullable=True),
    sa.Column('cue', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.article_id'], name=op.f('fk_quotes_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('quote_id', name=op.f('pk_quotes')),
    sa.UniqueConstraint('article_id', 'ordinal', name='uq_quotes_article_ordinal')
    )
    op.create_table('stances',
    sa.Column('stance_id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('article_id', sa.UUID(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('holder', sa.Text(), nullable=False),
    sa.Column('holder_type', sa.String(length=16), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('label', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.article_id'], name=op.f('fk_stances_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('stance_id', name=op.f('pk_stances')),
    sa.UniqueConstraint('article_id', 'ordinal', name='uq_stances_article_ordinal')
    )
    op.create_index('ix_stances_target', 'stances', ['target'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_stances_target', table_name='stances')
    op.drop_table('stances')
    op.drop_table('quotes')
    op.drop_index('ix_article_entities_entity_id', table_name='article_entities')
    op.drop_table('article_entities')
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text('published_at IS NULL'))
    op.drop_index('ix_outbox_article_id', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_entities_lower_name', table_name='entities')
    op.drop_table('entities')
    op.drop_index('ix_articles_received_at_article_id', table_name='articles')
    op.drop_index('ix_articles_canonical_url', table_name='articles')
    op.drop_table('articles')
