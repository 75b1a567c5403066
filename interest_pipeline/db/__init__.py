"""Database access: raw connections, typed models and their Core tables, Core statements on a
psycopg connection as typed rows, the Alembic driver."""
