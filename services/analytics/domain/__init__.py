"""Analytics's rules, in plain Python."""
