"""Dockerfiles: parse (what one declares) and generate (write one)."""
