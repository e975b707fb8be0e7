"""Central's persistence: SQLModel tables, Alembic migrations, engines and the unit of work."""
