"""Reconciliation of accruals, postings and the ledger: set-based SQL (sql) and its Dagster checks."""
