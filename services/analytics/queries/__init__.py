"""Analytics's SQL, one module per table group."""
