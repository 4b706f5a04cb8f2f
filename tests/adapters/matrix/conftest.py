"""Fixtures every Matrix test module shares: people with real clients, and the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from companion.content import Content
from tests.matrix_server.people import Person, bot_starter, people_maker
from tests.matrix_server.synapse import SynapseServer


@pytest.fixture
async def people(synapse: SynapseServer) -> AsyncIterator[Callable[[str], Person]]:
    async with people_maker(synapse) as make:
        yield make


@pytest.fixture
async def start_bot(
    synapse: SynapseServer,
    shipped: Content,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Callable[..., Any]]:
    """Start the bot (again, on the same database, to 'restart' it); all stopped at the end."""
    async with bot_starter(synapse, shipped, tmp_path, monkeypatch) as start:
        yield start
