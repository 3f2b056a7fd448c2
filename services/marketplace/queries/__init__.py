"""The marketplace's SQL, one module per area."""
