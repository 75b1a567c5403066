"""Alerts on runs that end badly: one notifier resource, a webhook and an e-mail channel."""
