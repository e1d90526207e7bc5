"""Storage: SQLAlchemy models, the queries that use them, migrations and seed data."""
