"""The moderation queue: members suggest resources, terms, prompts and anonymous questions;
moderators approve or reject them (the suggester is told privately), block members from
suggesting, and read the audit log. Anonymous questions store no author, only a keyed hash.

Where each command lives, in this package:

- suggest.py  `resource suggest`, `suggest term`, `suggest prompt`, `ask anonymously`
- limits.py   who may suggest now: not blocked, under the day's limit
- review.py   `queue`, `approve`, `reject`; the suggester's notice; the anonymous question's post
- blocks.py   `block`, `unblock`
- audit.py    `audit`
- items.py    a queued suggestion's number, kind and one-line description
"""

from __future__ import annotations

from companion.commands import CommandSpec, Feature
from companion.content import Content
from companion.delivery import Posting, PostKind
from companion.features.moderation.audit import Audit
from companion.features.moderation.blocks import Blocks
from companion.features.moderation.limits import SuggestionLimits
from companion.features.moderation.review import Review
from companion.features.moderation.suggest import Suggestions
from companion.identity import MemberHasher
from companion.notices import Notices
from companion.scheduler import Scheduler
from companion.store import Store


class Moderation:
    """The moderation feature, built from its parts."""

    def __init__(
        self,
        store: Store,
        content: Content,
        hasher: MemberHasher,
        notices: Notices,
        scheduler: Scheduler,
        *,
        per_day: int = 5,
    ) -> None:
        limits = SuggestionLimits(store, hasher, per_day)
        self.parts: tuple[Feature, ...] = (
            Suggestions(store, content, limits),
            Review(store, notices, scheduler),
            Blocks(store),
            Audit(store),
        )

    def commands(self) -> list[CommandSpec]:
        return [spec for part in self.parts for spec in part.commands()]

    def post_kinds(self) -> list[PostKind]:
        return [k for part in self.parts if isinstance(part, Posting) for k in part.post_kinds()]
