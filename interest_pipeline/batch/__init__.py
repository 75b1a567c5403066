"""Batch framework shared by both jobs: job configuration, executions, account results, chunks."""
