"""Adapter tests exercise the platforms, not the stores: they run on SQLite only (the core
suite runs on both stores)."""

import pytest


@pytest.fixture
def store_kind() -> str:
    return "sqlite"
