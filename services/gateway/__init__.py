"""The partner gateway: Gantry's HTTP/JSON API, calling the services over gRPC."""
