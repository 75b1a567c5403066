"""The posting job: set-based SQL per account chunk, wrapped in a thin Dagster graph."""
