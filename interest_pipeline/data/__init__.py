"""Input data for the pipeline: a synthetic book generator and validated CSV imports.

Both write only the spec's section 1 tables (products, rate tiers, accounts, balances).
"""
