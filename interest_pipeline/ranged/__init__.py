"""Ranged runs: one Dagster run over several business dates, each date processed as its own run would."""
