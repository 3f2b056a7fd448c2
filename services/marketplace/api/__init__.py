"""The marketplace's gRPC adapter: protobuf in, use case, protobuf out (see servicer.py)."""
