"""Stub of the azure-functions library for the sandbox (nothing imports it)."""
