"""Who and what is in the news over time: rollups kept in the write path, queries, SVG."""
