"""The dashboard's tests exercise the web surface, not the stores: like tests/adapters they
run on SQLite only, and read its file directly to prove what is (not) stored."""

import pytest


@pytest.fixture
def store_kind() -> str:
    return "sqlite"
