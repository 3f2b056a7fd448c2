"""Gantry: an open industrial internet platform."""
