"""Swapping in edited content files while `companion run` runs (SIGHUP).

Every feature holds the App's one Content object, so the swap is `Content.replace_with` on
that object: no feature is patched one by one. The files are read and validated in a worker
thread; invalid files leave the old content in place and the error names file and line.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from companion import content as content_module
from companion.content import Content
from companion.schema import ContentError

log = logging.getLogger(__name__)


class Reloader:
    """Reloads on request; a request while one is running is folded into one more pass."""

    def __init__(self, content: Content, directory: Path | None) -> None:
        self.content = content
        self.directory = directory
        self._task: asyncio.Task[bool] | None = None
        self._again = False

    def request(self) -> None:
        """Called from the signal handler: start a reload unless one is already on its way."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="reload")

    async def wait(self) -> bool:
        """The outcome of the latest reload (tests, shutdown)."""
        return await self._task if self._task is not None else False

    async def _run(self) -> bool:
        ok = await self.reload()
        while self._again:
            self._again = False
            ok = await self.reload()
        return ok

    async def reload(self) -> bool:
        try:
            new = await asyncio.to_thread(content_module.load, self.directory)
        except ContentError as error:
            log.error("content reload failed; keeping the content loaded before: %s", error)
            return False
        except Exception:
            log.exception("content reload failed; keeping the content loaded before")
            return False
        self.content.replace_with(new)
        # At warning level so it shows by default: an operator asked for it and waits for it.
        log.warning(
            "content reloaded: %d terms, %d reflections, %d prompts, %d resources",
            len(new.terms),
            len(new.reflections),
            len(new.prompts),
            len(new.resources),
        )
        return True
