"""Database access: raw connections, typed models, the Alembic driver."""
