"""FastAPI app: REST, webhook receivers, OpenAPI at /docs."""
