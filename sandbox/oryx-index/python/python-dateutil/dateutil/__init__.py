"""Stub of dateutil for the sandbox (nothing imports it)."""
