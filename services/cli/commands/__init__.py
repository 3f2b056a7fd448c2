"""The CLI's commands, each module adding its own to the parser with `register`."""
