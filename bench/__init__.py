"""newsflow benchmarks: throughput and latency of ingest and enrich against same-run baselines."""
