"""The operations API: the reference's GraphQL surface over the execution tables and Dagster's own GraphQL."""
