"""Stub of requests for the sandbox (nothing imports it)."""
