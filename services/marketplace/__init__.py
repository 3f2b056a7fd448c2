"""Marketplace: see protos/gantry/v1/marketplace.proto."""
