"""Telemetry's SQL, one module per area: readings, directory, retention, partitions, bulk."""
