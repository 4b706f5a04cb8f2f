"""Companion: a platform-neutral core for an allyship learning-community chat bot.

Nothing in this package imports a chat platform library; adapters live in ``adapters/``.
"""

__version__ = "0.1.0"
