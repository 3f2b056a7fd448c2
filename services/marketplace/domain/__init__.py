"""The marketplace's rules, in plain Python."""
