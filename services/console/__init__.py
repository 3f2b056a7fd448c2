"""The web console: Gantry's pages for people (plant managers, buyers), in English and
Simplified Chinese, calling the services over gRPC as the gateway does."""
