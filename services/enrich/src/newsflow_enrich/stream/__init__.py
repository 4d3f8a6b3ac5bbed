"""The Kafka side of enrich: the raw-topic consumer, its pure batch handler, DLQ, relay."""
