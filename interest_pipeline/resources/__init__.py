"""Dagster resources: each an interface with a real implementation (and fakes for tests)."""
