"""The partner API's JSON bodies, queries and answers, one module per area: validated by
these marshmallow schemas and documented from them."""
