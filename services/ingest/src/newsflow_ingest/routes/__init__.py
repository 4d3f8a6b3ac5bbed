"""The HTTP routes of ingest, one module per resource; their shared dependencies in `deps`."""
