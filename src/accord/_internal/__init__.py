"""Helpers private to Accord; not part of the public API."""
