"""interest-pipeline: accrues and posts interest for deposit accounts, on Dagster and PostgreSQL."""

__version__ = "0.1.0"
