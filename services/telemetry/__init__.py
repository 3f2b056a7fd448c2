"""Telemetry: sensor readings in, validated, stored and queried."""
