"""Analytics's gRPC adapter: one mixin per area of the API, composed in `servicer.py`."""
