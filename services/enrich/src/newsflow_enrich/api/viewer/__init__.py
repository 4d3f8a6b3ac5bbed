"""The article viewer: server-rendered HTML pages over the read store, no JavaScript."""
