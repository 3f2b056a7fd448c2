"""Analytics: see protos/gantry/v1/analytics.proto."""
