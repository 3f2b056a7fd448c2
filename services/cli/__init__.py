"""`gantry`: the operator's command line of a Gantry installation (also `kubectl gantry`)."""
