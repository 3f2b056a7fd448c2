"""Device registry: tenants, their API keys and their devices."""
