"""Near-duplicate stories: fingerprints (pure) and their index in PostgreSQL."""
