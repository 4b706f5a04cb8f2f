"""A real PostgreSQL server on loopback for the tests (see server.py and fixtures.py)."""
