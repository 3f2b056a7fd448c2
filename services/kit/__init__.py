"""The small kit every Gantry service shares: settings, database, bus, gRPC, logs, metrics."""
