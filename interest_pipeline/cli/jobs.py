"""`accrue`, `post`, `run`: launch the pipeline's Dagster jobs on the configured instance."""

import click


def register_job_commands(group: click.Group) -> None:
    """Job commands are added here as the jobs are built."""
