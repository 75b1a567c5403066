"""Database access: engine, typed models, migrations."""
