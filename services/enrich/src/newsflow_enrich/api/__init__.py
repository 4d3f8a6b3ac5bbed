"""The HTTP surface of enrich: the read API, health and metrics, and the HTML viewer."""
