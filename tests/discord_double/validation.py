"""Discord's documented limits, checked the way Discord reports them.

Every check appends to a :class:`FormErrors` tree shaped like Discord's 50035 error body:
``{"0": {"options": {"1": {"name": {"_errors": [{"code": ..., "message": ...}]}}}}}``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

JSON = dict[str, Any]
Path = Sequence[str | int]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
MAX_NONCE = 25
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_COMMAND_SIZE = 8000  # name + description + value characters, longest localization counted
OPTION_TYPES = range(1, 12)  # SUB_COMMAND .. ATTACHMENT
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, CHANNEL, NUMBER = 3, 4, 7, 10
MESSAGE_FLAGS = 4 | 4096 | 8192 | 32768  # SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, VOICE, V2
EPHEMERAL = 64


class FormErrors:
    def __init__(self) -> None:
        self.tree: JSON = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: Path, code: str, message: str) -> None:
        node = self.tree
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def body(self) -> JSON:
        return {"code": 50035, "message": "Invalid Form Body", "errors": self.tree}


def check_length(
    errors: FormErrors, path: Path, value: Any, low: int, high: int, *, required: bool = True
) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
    elif not low <= len(value) <= high:
        if low == 0:
            errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")
        else:
            errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def check_list(errors: FormErrors, path: Path, value: Any, high: int) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(path, "BASE_TYPE_LIST", "Must be an array.")
        return []
    if len(value) > high:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")
    return value


def valid_chat_input_name(name: Any) -> bool:
    """``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$``, lower case where a letter has one."""

    def ok(c: str) -> bool:
        return (
            c in "-_'"
            or unicodedata.category(c)[0] in "LN"
            or unicodedata.name(c, "").startswith(("DEVANAGARI", "THAI"))
        )

    return (
        isinstance(name, str)
        and 1 <= len(name) <= 32
        and all(map(ok, name))
        and name.lower() == name
    )


# --- application commands -------------------------------------------------------------


def validate_commands(commands: Any) -> FormErrors:
    """Check a bulk-overwrite body (``PUT .../commands``)."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_LIST", "Must be an array.")
        return errors
    seen: dict[tuple[int, str], int] = {}
    counts: dict[int, int] = {}
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            errors.add((index,), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        kind = command.get("type", 1)
        counts[kind] = counts.get(kind, 0) + 1
        _check_command(errors, index, command)
        key = (kind, str(command.get("name")))
        if key in seen:
            errors.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique (duplicate of index {seen[key]})",
            )
        seen.setdefault(key, index)
    for kind, limit in ((1, 100), (2, 15), (3, 15)):
        if counts.get(kind, 0) > limit:
            errors.add((), "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
    return errors


def _check_command(errors: FormErrors, index: int, command: JSON) -> None:
    kind = command.get("type", 1)
    name, description = command.get("name"), command.get("description", "")
    if kind not in (1, 2, 3):
        errors.add((index, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3}.")
        return
    if kind == 1:
        if not valid_chat_input_name(name):
            errors.add(
                (index, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        check_length(errors, (index, "description"), description, 1, 100)
        _check_options(errors, (index,), command.get("options"), "command")
    else:
        check_length(errors, (index, "name"), name, 1, 32)
        if description:
            errors.add(
                (index, "description"),
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have a description",
            )
        if command.get("options"):
            errors.add((index, "options"), "BASE_TYPE_MAX_LENGTH", "Must be 0 or fewer in length.")
    _check_localizations(errors, (index,), command, chat_input=kind == 1)
    perms = command.get("default_member_permissions")
    if perms is not None and not (
        (isinstance(perms, str) and perms.isdigit())
        or (isinstance(perms, int) and not isinstance(perms, bool) and perms >= 0)
    ):
        errors.add((index, "default_member_permissions"), "NUMBER_TYPE_COERCE", "Not a number.")
    for key, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
        values = command.get(key)
        if values is not None and not (isinstance(values, list) and set(values) <= allowed):
            errors.add((index, key), "BASE_TYPE_CHOICES", f"Value must be one of {allowed}.")
    if _size(command) > MAX_COMMAND_SIZE:
        errors.add((index,), "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")


def _check_localizations(errors: FormErrors, path: Path, obj: JSON, *, chat_input: bool) -> None:
    for key, low, high in (("name_localizations", 1, 32), ("description_localizations", 1, 100)):
        for locale, value in (obj.get(key) or {}).items():
            if key == "name_localizations" and chat_input:
                if not valid_chat_input_name(value):
                    errors.add(
                        (*path, key, locale), "APPLICATION_COMMAND_INVALID_NAME", "Name is invalid"
                    )
            else:
                check_length(errors, (*path, key, locale), value, low, high)


def _check_options(errors: FormErrors, path: Path, options: Any, parent: str) -> None:
    """``parent`` is "command", "group" or "subcommand": groups nest at most two levels."""
    options = check_list(errors, (*path, "options"), options, MAX_OPTIONS)
    kinds = {
        o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options if isinstance(o, dict)
    }
    if len(kinds) > 1:
        errors.add(
            (*path, "options"),
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive"
            " to all other types",
        )
    names: set[str] = set()
    seen_optional = False
    for i, option in enumerate(options):
        here = (*path, "options", i)
        if not isinstance(option, dict):
            errors.add(here, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        kind, name = option.get("type"), option.get("name")
        if kind not in OPTION_TYPES:
            errors.add((*here, "type"), "BASE_TYPE_CHOICES", "Value must be one of 1..11.")
            continue
        if not valid_chat_input_name(name):
            errors.add(
                (*here, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        elif name in names:
            errors.add(
                (*here, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(str(name))
        check_length(errors, (*here, "description"), option.get("description"), 1, 100)
        _check_localizations(errors, here, option, chat_input=True)
        if kind == SUB_COMMAND_GROUP:
            if parent != "command":
                errors.add(
                    (*here, "type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Sub-command groups can only be nested at the top level",
                )
            _check_options(errors, here, option.get("options"), "group")
        elif kind == SUB_COMMAND:
            if parent == "subcommand":
                errors.add(
                    (*here, "type"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Sub-commands cannot contain sub-commands",
                )
            _check_options(errors, here, option.get("options"), "subcommand")
        else:
            if option.get("required"):
                if seen_optional:
                    errors.add(
                        (*here, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True
            _check_option_values(errors, here, option)


def _check_option_values(errors: FormErrors, here: Path, option: JSON) -> None:
    kind = option["type"]
    choices = check_list(errors, (*here, "choices"), option.get("choices"), MAX_CHOICES)
    if choices and kind not in (STRING, INTEGER, NUMBER):
        errors.add((*here, "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 0 or fewer in length.")
    if option.get("autocomplete") and kind not in (STRING, INTEGER, NUMBER):
        errors.add(
            (*here, "autocomplete"), "APPLICATION_COMMAND_OPTION_INVALID", "Not for this type"
        )
    if choices and option.get("autocomplete"):
        errors.add(
            (*here, "autocomplete"),
            "APPLICATION_COMMAND_OPTIONS_AUTOCOMPLETE_CHOICES",
            "Autocomplete cannot be set for options with choices",
        )
    check_choices(errors, (*here, "choices"), choices, kind)
    if kind != STRING and ("min_length" in option or "max_length" in option):
        errors.add((*here, "min_length"), "APPLICATION_COMMAND_OPTION_INVALID", "Only for strings")
    for key, low in (("min_length", 0), ("max_length", 1)):
        value = option.get(key)
        if value is not None and not (isinstance(value, int) and low <= value <= 6000):
            errors.add((*here, key), "NUMBER_TYPE_MAX", f"{key} must be between {low} and 6000")
    if kind not in (INTEGER, NUMBER) and ("min_value" in option or "max_value" in option):
        errors.add((*here, "min_value"), "APPLICATION_COMMAND_OPTION_INVALID", "Only for numbers")
    if kind != CHANNEL and option.get("channel_types"):
        errors.add((*here, "channel_types"), "APPLICATION_COMMAND_OPTION_INVALID", "Only channels")


def check_choices(errors: FormErrors, path: Path, choices: list[Any], kind: int) -> None:
    for j, choice in enumerate(choices):
        if not isinstance(choice, dict):
            errors.add(
                (*path, j), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
            )
            continue
        check_length(errors, (*path, j, "name"), choice.get("name"), 1, 100)
        value = choice.get("value")
        if kind == STRING:
            check_length(errors, (*path, j, "value"), value, 1, 100)
        elif kind == INTEGER and not (isinstance(value, int) and not isinstance(value, bool)):
            errors.add((*path, j, "value"), "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
        elif kind == NUMBER and not isinstance(value, int | float):
            errors.add(
                (*path, j, "value"), "NUMBER_TYPE_COERCE", f"Value {value!r} is not a number."
            )


def _size(obj: Any) -> int:
    """Characters counted toward the per-command limit: names, descriptions and choice values
    of the command, its options and choices; of localized fields only the longest counts."""
    if isinstance(obj, list):
        return sum(map(_size, obj))
    if not isinstance(obj, dict):
        return 0
    size = len(str(obj.get("value") or ""))
    for key in ("name", "description"):
        localized = (obj.get(f"{key}_localizations") or {}).values()
        size += max(len(str(text or "")) for text in [obj.get(key), *localized])
    return size + _size(obj.get("options")) + _size(obj.get("choices"))


# --- messages ---------------------------------------------------------------------------


def validate_message(
    payload: JSON, *, files: int = 0, create: bool = True, interaction: bool = False
) -> tuple[int, JSON] | None:
    """Check a message body; return ``(status, error body)`` or None when Discord accepts it."""
    errors = FormErrors()
    content = payload.get("content")
    if content is not None:
        check_length(errors, ("content",), content, 0, MAX_CONTENT)
    embeds = check_list(errors, ("embeds",), payload.get("embeds"), MAX_EMBEDS)
    total = 0
    for i, embed in enumerate(embeds):
        total += _check_embed(errors, ("embeds", i), embed)
    if total > MAX_EMBED_TOTAL:
        errors.add(
            ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    nonce = payload.get("nonce")
    if isinstance(nonce, str):
        check_length(errors, ("nonce",), nonce, 0, MAX_NONCE)
    elif nonce is not None and not isinstance(nonce, int):
        errors.add(("nonce",), "BASE_TYPE_STRING", "Must be a string or an integer.")
    _check_allowed_mentions(errors, payload.get("allowed_mentions"))
    check_list(errors, ("sticker_ids",), payload.get("sticker_ids"), 3)
    check_list(errors, ("components",), payload.get("components"), 40)
    if create and payload.get("poll") is not None:
        from .native import check_poll

        check_poll(errors, payload["poll"])
    elif not create and payload.get("poll") is not None:
        errors.add(("poll",), "BASE_TYPE_NONE", "A poll cannot be added by an edit.")
    flags = payload.get("flags") or 0
    allowed = MESSAGE_FLAGS | (EPHEMERAL if interaction else 0)
    if not isinstance(flags, int) or flags & ~allowed:
        errors.add(("flags",), "MESSAGE_FLAGS_INVALID", f"Invalid message flags {flags!r}")
    if errors:
        return 400, errors.body()
    if (
        create
        and not (
            content or embeds or files or payload.get("sticker_ids") or payload.get("components")
        )
        and not payload.get("poll")
    ):
        return 400, {"code": 50006, "message": "Cannot send an empty message"}
    return None


def _check_embed(errors: FormErrors, path: Path, embed: Any) -> int:
    if not isinstance(embed, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return 0
    total = 0
    for key, high in EMBED_LIMITS.items():
        check_length(errors, (*path, key), embed.get(key), 0, high, required=False)
        total += len(str(embed.get(key) or ""))
    fields = check_list(errors, (*path, "fields"), embed.get("fields"), 25)
    for j, f in enumerate(fields):
        check_length(errors, (*path, "fields", j, "name"), f.get("name"), 1, 256)
        check_length(errors, (*path, "fields", j, "value"), f.get("value"), 1, 1024)
        total += len(str(f.get("name") or "")) + len(str(f.get("value") or ""))
    for key, sub, high in (("footer", "text", 2048), ("author", "name", 256)):
        if isinstance(embed.get(key), dict):
            check_length(errors, (*path, key, sub), embed[key].get(sub), 1, high)
            total += len(str(embed[key].get(sub) or ""))
    urls = [((), "url")] + [((k,), "url") for k in ("image", "thumbnail", "author")]
    urls += [(("author",), "icon_url"), (("footer",), "icon_url")]
    for parent, key in urls:
        holder = embed.get(parent[0]) if parent else embed
        url = holder.get(key) if isinstance(holder, dict) else None
        if url is not None and not str(url).startswith(("http://", "https://", "attachment://")):
            errors.add((*path, *parent, key), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    color = embed.get("color")
    if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
        errors.add((*path, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
    return total


def _check_allowed_mentions(errors: FormErrors, allowed: Any) -> None:
    if allowed is None:
        return
    if not isinstance(allowed, dict):
        errors.add(("allowed_mentions",), "DICT_TYPE_CONVERT", "Must be an object.")
        return
    parse = allowed.get("parse", [])
    if not isinstance(parse, list) or not set(parse) <= {"users", "roles", "everyone"}:
        errors.add(("allowed_mentions", "parse"), "BASE_TYPE_CHOICES", "Invalid parse value.")
        return
    for kind in ("users", "roles"):
        check_list(errors, ("allowed_mentions", kind), allowed.get(kind), 100)
        if kind in parse and allowed.get(kind):
            errors.add(
                ("allowed_mentions",),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )


def validate_autocomplete(data: Any, kind: int) -> FormErrors:
    errors = FormErrors()
    if not isinstance(data, dict):
        errors.add(("data",), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return errors
    choices = check_list(errors, ("data", "choices"), data.get("choices"), MAX_CHOICES)
    check_choices(errors, ("data", "choices"), choices, kind)
    return errors


def validate_modal(data: Any) -> FormErrors:
    errors = FormErrors()
    if not isinstance(data, dict):
        errors.add(("data",), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return errors
    check_length(errors, ("data", "custom_id"), data.get("custom_id"), 1, 100)
    check_length(errors, ("data", "title"), data.get("title"), 1, 45)
    components = check_list(errors, ("data", "components"), data.get("components"), 5)
    if not components:
        errors.add(("data", "components"), "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")
    return errors
