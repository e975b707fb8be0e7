"""Central's HTTP API (FastAPI): one router per resource, collected in `api_router`."""
