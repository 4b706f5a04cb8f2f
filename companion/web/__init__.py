"""The web dashboard for moderators: aiohttp + Jinja2, in the bot's own event loop.

``companion.web.server`` builds the aiohttp application (imported only when `[web]` is on);
one module per page: auth, schedules, queue, prompts, bookclub, challenge, settings.
"""
