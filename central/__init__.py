"""The central service: pure domain, SQLModel store with Alembic migrations, event ingest
(exactly once, in order, per site) and the FastAPI API. `central.app.create_app` wires it up."""
