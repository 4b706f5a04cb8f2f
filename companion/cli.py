"""The `companion` command: console, ask, run, content check."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from companion import content as content_module
from companion import extras, logs, operations
from companion.config import ConfigError, Settings, default_db_path
from companion.schema import ContentError
from companion.store.base import StoreUnavailable

if TYPE_CHECKING:
    from companion.gateway import Gateway
    from companion.platforms import Platform

log = logging.getLogger("companion")
T = TypeVar("T")
SETTLE_AFTER = 3.0  # seconds of serving after which the start-up objects are frozen


def main(argv: Sequence[str] | None = None) -> int:
    # Starting allocates ~55,000 objects that live as long as the process (the modules of
    # nio, aiohttp and the app, the content): the cyclic GC walked them again and again, a
    # full pass of ~22 ms among them, ~45 ms of a ~450 ms start to the first reply (issue
    # 24). It stays off while starting; _serve collects once and freezes them (gc.freeze,
    # as CPython's docs suggest for long-lived start-up objects), then turns it back on.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if enabled:
            gc.enable()


def _settle() -> None:
    """Started: collect what starting left behind, keep the rest out of every later pass."""
    if not gc.isenabled():
        gc.collect()
        gc.freeze()
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else getattr(logging, args.log_level.upper())
    logs.configure(args.log_format, level)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, ContentError) as error:
        print(f"companion: {error}", file=sys.stderr)
        return 2
    except StoreUnavailable as error:  # the database server is down: a supervisor retries
        print(f"companion: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:  # an optional extra the config needs is missing
        missing = extras.missing_extra(error)
        if missing is None:
            raise
        print(f"companion: {missing}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="companion", description=__doc__)
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--log-format", choices=logs.FORMATS, default="human", help="json: one object per line"
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="warning"
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def local(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db", type=Path, default=None, help=f"the SQLite file (default: {default_db_path()})"
        )
        p.add_argument("--content", type=Path, default=None, help="content directory")
        p.add_argument("--timezone", default="UTC", help="the community's default time zone")

    console = sub.add_parser("console", help="chat with Companion in this terminal")
    local(console)
    console.set_defaults(func=_console)

    ask = sub.add_parser("ask", help='run one command and print the reply: ask "define allyship"')
    local(ask)
    ask.add_argument("line", nargs="+", help="the command")
    ask.set_defaults(func=_ask)

    run = sub.add_parser("run", help="start the adapters named in a config file")
    run.add_argument("--config", type=Path, required=True)
    run.set_defaults(func=_run)

    doctor = sub.add_parser("doctor", help="check a config file, its database and platforms")
    doctor.add_argument("--config", type=Path, required=True)
    doctor.set_defaults(func=_doctor)

    healthcheck = sub.add_parser(
        "healthcheck",
        help="exit 0 when [metrics] /healthz answers or [metrics] is off (a container's check)",
    )
    healthcheck.add_argument("--config", type=Path, required=True)
    healthcheck.set_defaults(func=_healthcheck)

    commands = sub.add_parser("commands", help="print the command list as Markdown")
    commands.set_defaults(func=_commands)
    operations.add_parsers(sub)

    content = sub.add_parser("content", help="check the content files")
    content_sub = content.add_subparsers(required=True, metavar="ACTION")
    check = content_sub.add_parser(
        "check", help="validate the content files without starting (default: the shipped ones)"
    )
    check.add_argument(
        "dir", nargs="?", type=Path, default=None, help="a content directory to check instead"
    )
    check.set_defaults(func=_content_check)
    operations.add_reload_parser(content_sub)
    for action, helptext in (
        ("export", "write a community's own entries to a JSON file (- for stdout)"),
        ("import", "add a community's entries from a JSON export or a paths file (all or nothing)"),
    ):
        sub_action = content_sub.add_parser(action, help=helptext)
        sub_action.add_argument(
            "file", help="the JSON or paths (TOML) file (- for standard input/output)"
        )
        if action == "export":
            sub_action.add_argument(
                "--paths",
                action="store_true",
                help="write the community's own learning paths instead, as a paths TOML file",
            )
        else:
            sub_action.add_argument(
                "--content",
                type=Path,
                default=None,
                help="the content directory a paths file's sources resolve in (default: shipped)",
            )
        sub_action.add_argument("--db", type=Path, default=None, help="the SQLite file")
        sub_action.add_argument(
            "--community",
            default="console:local",
            help="the community id (a Discord guild id, a Matrix room id; default: the console)",
        )
        sub_action.set_defaults(func=_content_exchange, action=action)
    return parser


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked: importlib.metadata reads the installed
    distributions, ~5-10 ms of every start otherwise (issue 24)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"companion {_version()}")
        parser.exit()


def _version() -> str:
    """The installed distribution's version (the one pip and the wheel name show)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("companion")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _local_settings(args: argparse.Namespace) -> Settings:
    return Settings(
        db_path=args.db or default_db_path(),
        content_dir=args.content,
        default_timezone=args.timezone,
    )


def _console(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(_local_settings(args)))


def _ask(args: argparse.Namespace) -> int:
    from companion.app import build
    from companion_adapters.console import ConsoleAdapter

    async def once() -> None:
        async with await build(_local_settings(args)) as app:
            await ConsoleAdapter(app.gateway, interactive=False).handle(" ".join(args.line))

    asyncio.run(once())
    return 0


def _run(args: argparse.Namespace) -> int:
    # A reload asked for while the bot is still starting must not kill it (SIGHUP's default
    # action) nor be lost: it is noted, and _serve reloads once the content can be swapped.
    early: list[int] = []
    signal.signal(signal.SIGHUP, lambda signum, frame: early.append(signum))
    from companion.platforms import load_settings

    settings = load_settings(args.config)
    with operations.running(settings, operations.pid_file(settings)) as serving:
        return asyncio.run(_serve(settings, reload_pending=lambda: bool(early), serving=serving))


def _doctor(args: argparse.Namespace) -> int:
    from companion import doctor

    checks = asyncio.run(doctor.diagnose(args.config))
    print(doctor.render(checks))
    return doctor.exit_code(checks)


def _healthcheck(args: argparse.Namespace) -> int:
    """The container image's HEALTHCHECK: ask the running bot's /healthz (companion.health)."""
    import ipaddress
    import urllib.error
    import urllib.request

    from companion.health import MetricsConfig
    from companion.platforms import load_settings

    config = MetricsConfig.from_settings(load_settings(args.config))
    if config is None:
        return 0  # no endpoint to ask: the container's state is the process's
    address = ipaddress.ip_address(config.bind)
    if address.is_unspecified:  # listening everywhere: ask over loopback
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    host = f"[{address}]" if address.version == 6 else str(address)
    try:
        with urllib.request.urlopen(f"http://{host}:{config.port}/healthz", timeout=5) as answer:
            return 0 if answer.status == 200 else 1
    except (OSError, urllib.error.URLError) as error:
        print(f"companion: /healthz on {host}:{config.port} did not answer OK: {error}")
        return 1


async def _serve(
    settings: Settings,
    *,
    reload_pending: Callable[[], bool] = bool,
    serving: Callable[[], None] = lambda: None,
    **build_options: Any,
) -> int:
    """Build the app, start every configured platform (companion.platforms), stop on
    SIGINT/SIGTERM or when one is done (the terminal's input ended).

    SIGHUP reloads the content files (see companion.reload); ``serving`` is called once the
    signals are handled: it writes the pid file `companion content reload` reads. The app
    owns the lifecycle: leaving ``running`` stops the surfaces in reverse order, then the
    scheduler, then the store.
    """
    from companion import health, platforms
    from companion.app import running
    from companion.config import WebSettings
    from companion.reload import Reloader

    declared = {p.name: p for p in platforms.all_platforms()}
    for name in settings.adapters:
        if name not in declared:
            raise ConfigError(f"There is no platform called {name!r}.")
    loop = asyncio.get_running_loop()
    async with running(settings, **build_options) as app:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        reloader = Reloader(app.content, settings.content_dir)
        loop.call_later(SETTLE_AFTER, _settle)
        loop.add_signal_handler(signal.SIGHUP, reloader.request)
        if reload_pending():  # a SIGHUP while it was starting
            reloader.request()
        try:
            watched = tuple(n for n in settings.adapters if declared[n].monitored)
            endpoint = await health.start(app.metrics, app.scheduler, settings, watched)
            if endpoint is not None:  # [metrics]
                app.on_stop(endpoint.stop)
            serving()
            tasks = [
                app.serve(name, partial(_serve_on, declared[name], settings=settings))
                for name in settings.adapters
            ]
            await app.start()
            web = WebSettings.from_settings(settings)
            if web.enabled:
                from companion.web.server import start as start_web  # aiohttp only when asked

                web_runner, port = await start_web(app, web)
                app.on_stop(web_runner.cleanup)
                print(
                    f"companion: dashboard on {web.bind}:{port}, linked as {web.public_url}",
                    file=sys.stderr,
                )
            stopper = asyncio.create_task(stop.wait(), name="stop")
            try:
                done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
            for task in done:
                if task is not stopper and task.exception():
                    raise task.exception()  # type: ignore[misc]
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
    return 0


async def _serve_on(platform: Platform, gateway: Gateway, *, settings: Settings) -> None:
    await platform.serve(gateway, settings)


def _commands(args: argparse.Namespace) -> int:
    print(asyncio.run(commands_markdown()))
    return 0


async def commands_markdown() -> str:
    """The README's command table, generated from the registry of a throwaway app."""
    from companion.app import build

    async with await build(Settings(db_path=Path(":memory:"))) as app:
        rows = ["| command | what it does | who |", "|---|---|---|"]
        for spec in app.registry:
            who = "moderators" if spec.moderator_only else "anyone"
            usage = spec.usage.replace("|", "\\|")
            rows.append(f"| `{usage}` | {spec.description} | {who} |")
        return "\n".join(rows)


def _content_exchange(args: argparse.Namespace) -> int:
    from companion import exchange
    from companion.store import Store

    async def with_store(use: Callable[[Store], Awaitable[T]]) -> T:
        store = await Store.open(args.db or default_db_path())
        try:
            return await use(store)
        finally:
            await store.close()

    if args.action == "export":
        write = exchange.export_paths if args.paths else exchange.export_community
        text = asyncio.run(with_store(lambda s: write(s, args.community)))
        if args.file == "-":
            sys.stdout.write(text)
            return 0
        try:
            Path(args.file).write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"companion: nothing exported: {args.file}: {error.strerror}", file=sys.stderr)
            return 2
        return 0
    try:
        name, raw = _import_file(args.file)
        if exchange.is_paths_file(raw):
            content = content_module.load(args.content)
            now = datetime.now(UTC)
            ids = asyncio.run(
                with_store(
                    lambda s: exchange.import_paths(s, content, args.community, raw, name, now)
                )
            )
            print(f"imported {len(ids)} path(s) into {args.community}: {', '.join(ids)}")
            return 0
        added = asyncio.run(with_store(lambda s: exchange.import_community(s, args.community, raw)))
    except exchange.ExchangeError as error:
        print(f"companion: nothing imported: {error}", file=sys.stderr)
        return 2
    print(f"imported {added} entries into {args.community}")
    return 0


def _import_file(file: str) -> tuple[str, str]:
    """The file to import (``-``: standard input): its name and text, or ExchangeError for
    a file that cannot be read, is not UTF-8 text, or is too large to be an export."""
    from companion import exchange

    name = "<stdin>" if file == "-" else Path(file).name
    try:
        if file == "-":
            data = sys.stdin.buffer.read(exchange.MAX_FILE + 1)
        else:
            with open(file, "rb") as opened:
                data = opened.read(exchange.MAX_FILE + 1)
    except OSError as error:
        raise exchange.ExchangeError(f"{name}: cannot read it ({error.strerror})") from None
    if len(data) > exchange.MAX_FILE:
        limit = exchange.MAX_FILE // (1024 * 1024)
        raise exchange.ExchangeError(f"{name}: larger than {limit} MiB, too large to import")
    return name, exchange.decode(data, name)


def _content_check(args: argparse.Namespace) -> int:
    directory = args.dir or content_module.default_dir()
    loaded = content_module.load(directory)
    counts = {
        "terms": len(loaded.terms),
        "reflections": len(loaded.reflections),
        "prompts": len(loaded.prompts),
        "resources": len(loaded.resources),
        "myths": len(loaded.myths),
        "practices": len(loaded.practices),
        "plans": len(loaded.plans),
        "tags": len(loaded.tags),
    }
    print(f"content OK in {directory}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
