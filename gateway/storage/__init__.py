"""Storage: SQLAlchemy 2 models and small functions that take a session or connection."""
