"""The terminal adapter: the embedded default, no account needed."""

from companion_adapters.console.adapter import ConsoleAdapter

__all__ = ["ConsoleAdapter"]
