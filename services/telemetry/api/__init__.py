"""Telemetry's gRPC adapter."""
