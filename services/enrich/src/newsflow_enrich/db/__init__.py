"""PostgreSQL: the tables enrich owns, their migrations, and the write path."""
