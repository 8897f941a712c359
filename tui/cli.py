"""The `lookout` command line.

`lookout` opens the terminal app; `lookout --once` probes the fleet once,
prints a report and exits with a monitoring-plugins code. This module must not
import Textual at module level: the headless path never loads it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core import __version__
from core.durations import parse_duration

if TYPE_CHECKING:
    import asyncio

    from core.bus import ViewSubscription
    from core.config import Config
    from core.history import HistoryStore
    from core.pins.store import PinStore
    from core.snapshot import FleetSnapshot
    from tui.app import LookoutApp
    from tui.attached import AttachedSource

EXIT_UNKNOWN = 3
EXIT_INTERRUPTED = 130
DEFAULT_ONCE_TIMEOUT = 60.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""What ends a --once run early but cleanly (cron's and systemd's `timeout`, a closed ssh session): the
engine stops, every server with it, and the check reports UNKNOWN, as monitoring plugins do when killed."""


def config_candidates() -> list[Path]:
    """Where Lookout looks for services.yaml when -c is not given, in order."""
    candidates = []
    if os.environ.get("LOOKOUT_CONFIG"):
        candidates.append(Path(os.environ["LOOKOUT_CONFIG"]))
    candidates.append(Path("services.yaml"))
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidates.append(config_home / "lookout" / "services.yaml")
    return candidates


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout",
        description="Which integration is sick? Live health, rate limits and circuit breakers "
        "for MCP servers and HTTP APIs.",
        epilog="Commands: `lookout demo` runs a local fleet that shows every state; "
        "`lookout schema` prints the JSON Schema of services.yaml; "
        "`lookout serve` monitors unattended (metrics, status API); "
        "`lookout discover` lists the MCP servers your clients (Claude, Cursor, VS Code, ...) configure; "
        "`lookout history [SERVICE]` shows recorded uptime, latency and incidents; "
        "`lookout alerts test [CHANNEL]` sends a test notification through an alert channel; "
        "`lookout login SERVICE` signs in to a remote MCP server that uses OAuth; "
        "`lookout tools diff|approve SERVICE` shows or approves an MCP server's changed tools; "
        "`lookout silence SERVICE|tag:NAME 2h` holds back its alert notifications.",
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="services.yaml, or an MCP client's mcp.json (default: $LOOKOUT_CONFIG, "
        "./services.yaml, ~/.config/lookout/services.yaml)",
    )
    parser.add_argument("--once", action="store_true", help="probe every service once, print a report, exit")
    parser.add_argument(
        "--discover",
        action="store_true",
        help="monitor the MCP servers every client on this machine configures (see `lookout discover`), "
        "following changes to their files",
    )
    parser.add_argument(
        "--all-projects",
        action="store_true",
        help="with --discover: the servers of every project in ~/.claude.json, not only this directory's",
    )
    parser.add_argument(
        "--format",
        choices=["table", "json", "nagios"],
        default="table",
        help="report format for --once (default: table)",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="probe only these services (--once)")
    parser.add_argument(
        "--timeout",
        metavar="DURATION",
        default=None,
        help=f"overall limit for --once, e.g. 30s (default: {DEFAULT_ONCE_TIMEOUT:.0f}s)",
    )
    parser.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the --once table (default: auto; NO_COLOR is honoured)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="with --once: print engine log lines (retries, breaker changes) to stderr",
    )
    parser.add_argument("--check", action="store_true", help="validate the config and exit (0 valid, 3 invalid)")
    parser.add_argument(
        "--ansi",
        action="store_true",
        help="use the terminal's own 16-colour palette (auto when truecolor is not advertised)",
    )
    parser.add_argument(
        "--no-watch",
        action="store_true",
        help="do not reload the config when its file changes (ctrl+r still reloads it)",
    )
    parser.add_argument(
        "--history",
        metavar="PATH",
        help="record results here (default for the monitor: $XDG_STATE_HOME/lookout/history.db; "
        "--once records only when given this)",
    )
    parser.add_argument("--no-history", action="store_true", help="record nothing")
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="run an engine of its own even when a `lookout serve` records into the same history "
        "(default: attach to that serve)",
    )
    parser.add_argument(
        "--token-env",
        metavar="NAME",
        help="when attaching to a serve that asks for a bearer token: the environment variable holding it",
    )
    parser.add_argument("--version", action="version", version=f"lookout {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["schema"]:
        return _print_schema()
    if args_list[:1] == ["silence"]:
        from core.alerts.silence_cli import main as silence_main

        return silence_main(args_list[1:])
    if args_list[:1] == ["history"]:
        from core.history.cli import main as history_main

        return history_main(args_list[1:])
    if args_list[:1] == ["login"]:
        from core.auth.cli import main as login_main

        return login_main(args_list[1:], _load)
    if args_list[:1] == ["tools"]:
        from core.pins.cli import main as tools_main

        return tools_main(args_list[1:])
    if args_list[:1] == ["demo"]:
        from tui.demo_cli import main as demo_main

        return demo_main(args_list[1:])
    if args_list[:1] == ["alerts"]:
        from core.alerts.cli import main as alerts_main

        return alerts_main(args_list[1:], candidates=config_candidates)
    if args_list[:1] == ["discover"]:
        from core.clients.command import main as discover_main

        return discover_main(args_list[1:])
    if args_list[:1] == ["serve"]:
        from core.serve.command import main as serve_main

        return serve_main(args_list[1:], load=_load)
    args = build_parser().parse_args(args_list)
    if not (args.once or args.check or args.discover):  # --discover: this machine's clients' fleet, not a daemon's
        # A running serve first: attached, the daemon's config is the one shown, and the local file is not read
        # (a broken or missing one must not keep anyone from watching the daemon).
        try:
            attached = attached_app(args)
        except ValueError as error:
            print(f"lookout: {error}", file=sys.stderr)
            return EXIT_UNKNOWN
        if attached is not None:
            return attached.run() or 0
    from core.collector import collections_paused

    with collections_paused():  # the config models live as long as the process: nothing for the collector to find
        from core.config import ConfigError  # here, not at the top: `lookout history` never loads the config models

    try:
        config = _load_discovered(args.all_projects) if args.discover else _load(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_UNKNOWN
    try:
        timeout = parse_duration(args.timeout) if args.timeout else DEFAULT_ONCE_TIMEOUT
    except ValueError as error:
        print(f"lookout: --timeout: {error}", file=sys.stderr)
        return EXIT_UNKNOWN
    if args.check:
        for warning in config.warnings:
            print(warning, file=sys.stderr)
        source = config.path or "discovered MCP client configs"
        return emit(f"{source}: {len(config.services)} services, config is valid", 0)
    if args.only:
        unknown = [name for name in args.only if name not in config.services]
        if unknown:
            known = ", ".join(config.services) or "none"
            print(f"lookout: --only: no service named {', '.join(unknown)} (services: {known})", file=sys.stderr)
            return EXIT_UNKNOWN
    from core.processes import enable_subreaper  # after --check, which starts no process (nor asyncio)

    enable_subreaper(sole_owner=True)  # orphans of our servers come to us, to be ended, not to PID 1
    if args.once:
        history = open_recording(args.history, config) if args.history and not args.no_history else None
        lists_tools = any(service.kind == "mcp" for service in config.services.values())
        wants_pins = lists_tools and not args.no_history  # pins are for MCP tools
        try:
            return run_once(
                config,
                fmt=args.format,
                only=args.only,
                timeout=timeout,
                color=args.color,
                verbose=args.verbose,
                history=history,
                open_pins=partial(pin_store, args.history) if wants_pins else None,
            )
        finally:
            if history is not None:
                history.close()
    from tui.app import run_app

    notices: list[str] = []  # said in the log pane: stderr is hidden behind the monitor's screen
    history = None if args.no_history else open_recording(args.history, config, warn=notices.append)
    follow = None
    if args.discover:  # the lint and the disabled servers, in the log pane; the clients' files followed
        notices += [str(warning) for warning in config.warnings]
        if not args.no_watch:
            from core.clients.discover import environment_context
            from core.clients.follow import DiscoveryFollower

            context = environment_context(all_projects=args.all_projects)
            follow = partial(DiscoveryFollower, ctx=context)
    try:
        return run_app(
            config,
            config_path="MCP client configs (discovered)" if args.discover else str(config.path),
            ansi=args.ansi or None,
            watch=not args.no_watch,
            history=history,
            notices=notices,
            follow=follow,
            alerts_off="--no-history" if args.no_history else "the history file is not recorded here (see above)",
        )
    finally:
        if history is not None:
            history.close()


def attached_app(args: argparse.Namespace) -> LookoutApp | None:
    """The monitor attached to a running `lookout serve` (see attached_source), or None: no daemon to attach to.
    The daemon probes and records from its own config; this process shows and asks, and reloads nothing."""
    source = attached_source(args)
    if source is None:
        return None
    from tui.app import LookoutApp

    ansi = args.ansi or os.environ.get("COLORTERM", "").lower() not in ("truecolor", "24bit")
    return LookoutApp(source, ansi=ansi, exit_on_signals=True, watch_file=False)


def attached_source(args: argparse.Namespace) -> AttachedSource | None:
    """The running `lookout serve` the monitor attaches to, if one records into its history file (and
    neither --standalone nor --no-history says otherwise); None: the monitor runs its own engine.
    Raises ValueError when --token-env names an unset variable."""
    if args.standalone or args.no_history:
        return None
    from core.history.paths import default_history_path
    from core.serve.client import find_serve

    url = find_serve(Path(args.history) if args.history else default_history_path())
    if url is None:
        return None
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env, "")
        if not token:
            raise ValueError(f"--token-env {args.token_env}: the environment variable is not set or empty")
    from tui.attached import AttachedSource

    source = AttachedSource(url, token=token)
    source.silences_path = Path(args.history) if args.history else default_history_path()
    return source


def open_recording(path: str | None, config: Config, warn: Callable[[str], None] | None = None) -> HistoryStore | None:
    """The history this process records into, or None after saying once why not (default: on stderr)."""
    from core.history.recording import open_recording as open_for

    return open_for(path, config, warn or _warn_on_stderr)


def pin_store(path: str | None) -> PinStore:
    """The tool pins beside the history (the default one unless --history names another): a `--once` run
    compares with them without recording, so cron runs and restarts see an unapproved change."""
    from core.history.paths import default_history_path
    from core.pins.store import PinStore

    return PinStore(Path(path) if path else default_history_path())


def _warn_on_stderr(message: str) -> None:
    with contextlib.suppress(OSError):
        print(f"lookout: {message}", file=sys.stderr)


def _load_discovered(all_projects: bool) -> Config:
    """--discover: the fleet of every MCP client config found (lint findings become config warnings)."""
    from core.clients.discover import environment_context
    from core.clients.follow import discovered_fleet

    return discovered_fleet(environment_context(all_projects=all_projects))


def _load(path: str | None) -> Config:
    from core.config import ConfigError, load_config

    if path is not None:
        return load_config(path)
    for candidate in config_candidates():
        if candidate.is_file():
            return load_config(candidate)
    tried = ", ".join(str(c) for c in config_candidates())
    raise ConfigError.single(
        "lookout", f"no services.yaml found (looked for {tried}); pass -c FILE, or try `lookout demo`"
    )


def run_once(
    config: Config,
    *,
    fmt: str = "table",
    only: Sequence[str] | None = None,
    timeout: float = DEFAULT_ONCE_TIMEOUT,
    color: str = "auto",
    verbose: bool = False,
    history: HistoryStore | None = None,
    open_pins: Callable[[], PinStore] | None = None,
) -> int:
    """Probe once and print the report; the exit code follows the monitoring-plugins convention.

    SIGTERM or SIGHUP stop the run, and every server it started, and exit UNKNOWN saying so. `open_pins`
    gives the tool pins to compare with, opened (and closed) by the run once its servers are spawned.
    """
    import asyncio  # here, not at the top: `lookout history` is over before asyncio would have loaded

    try:
        snapshot, stopped_by = asyncio.run(_probe_once(config, only, timeout, verbose, history, open_pins))
    except KeyboardInterrupt:
        print("lookout: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    from core.report import exit_code, render_json, render_nagios, render_table  # after: the servers start sooner

    if stopped_by is not None:
        return _report_interrupted(snapshot, fmt, stopped_by)
    if fmt == "json":
        return emit(render_json(snapshot), exit_code(snapshot))
    if fmt == "nagios":
        return emit(render_nagios(snapshot), exit_code(snapshot))
    use_colour = color == "always" or (color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    width = shutil.get_terminal_size((100, 24)).columns
    return emit(render_table(snapshot, width=width, colour=use_colour), exit_code(snapshot))


def emit(text: str, code: int) -> int:
    """Print a report and return its exit code, even if the reader went away (`lookout --once | head -3`).

    A closed pipe is the reader's choice, not our failure: no traceback, and the code the run had. Stdout is
    pointed at /dev/null so the interpreter's last flush at exit has nowhere to fail.
    """
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stream(sys.stdout)
    return code


def _discard_stream(stream: TextIO) -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def _report_interrupted(snapshot: FleetSnapshot, fmt: str, signum: signal.Signals) -> int:
    """A run cut short is UNKNOWN, whatever was probed before: say so in the format the caller reads."""
    reason = f"interrupted by {signum.name}"
    if fmt == "nagios":
        return emit(f"LOOKOUT UNKNOWN - {reason}", EXIT_UNKNOWN)
    if fmt == "json":
        import json

        from core.report import to_json

        document = to_json(snapshot)
        services = document.pop("services")  # after the reason, which is what a reader needs first
        document.update(status="unknown", exit_code=EXIT_UNKNOWN, reason=reason, services=services)
        return emit(json.dumps(document, indent=2, ensure_ascii=False), EXIT_UNKNOWN)
    with contextlib.suppress(OSError):
        print(f"lookout: {reason}; no report", file=sys.stderr)
    return EXIT_UNKNOWN


async def _probe_once(
    config: Config,
    only: Sequence[str] | None,
    timeout: float,
    verbose: bool,
    history: HistoryStore | None = None,
    open_pins: Callable[[], PinStore] | None = None,
) -> tuple[FleetSnapshot, signal.Signals | None]:
    """(snapshot, the signal that cut the run short or None). The engine is stopped either way.

    Stdio MCP servers are spawned first (`core.probes.mcp.early`), before the engine is even imported:
    they boot while it loads, and their probes adopt them. So the stop signals are handled from before
    the first spawn: a run stopped at any point stops its servers and reports UNKNOWN."""
    import asyncio

    from core.selection import with_dependencies

    loop = asyncio.get_running_loop()
    stop_signal: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(signum: signal.Signals) -> None:
        if not stop_signal.done():
            stop_signal.set_result(signum)

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    discard_early = None
    pins = None
    try:
        # With --only, dependencies are probed so "depends on X, which is down" stays true, but only
        # the named services are reported.
        targets = with_dependencies(config.services, only) if only else None
        discard_early = await _start_servers_early(config, targets)
        pins = open_pins() if open_pins is not None else None  # after the spawn: its import costs ~40 ms
        return await _run_engine_once(config, only, targets, stop_signal, timeout, verbose, history, pins)
    finally:
        if discard_early is not None:
            await discard_early()  # what no probe adopted (the run was cut short): after the engine's own stop
        if pins is not None:
            pins.close()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


async def _start_servers_early(
    config: Config, targets: Sequence[str] | None
) -> Callable[[], Coroutine[Any, Any, None]] | None:
    """Spawn the run's stdio MCP servers now; returns what ends those no probe adopts (None: none started)."""
    from core.config import McpService

    services = [s for name, s in config.services.items() if targets is None or name in targets]
    stdio = [s for s in services if isinstance(s, McpService) and s.transport == "stdio"]
    if not stdio:
        return None  # an HTTP-only fleet never loads the MCP code
    from core.probes.base import default_max_starting
    from core.probes.mcp.early import discard_early, start_early

    await start_early(stdio, config.defaults.max_starting or default_max_starting())
    return discard_early


async def _run_engine_once(
    config: Config,
    only: Sequence[str] | None,
    targets: Sequence[str] | None,
    stop_signal: asyncio.Future[signal.Signals],
    timeout: float,
    verbose: bool,
    history: HistoryStore | None,
    pins: PinStore | None,
) -> tuple[FleetSnapshot, signal.Signals | None]:
    """Probe `targets` (None: all) once, unless `stop_signal` comes first."""
    import asyncio

    from core.collector import collections_paused

    with collections_paused():  # imports and the fleet built: what lives as long as the run, no garbage to find
        from core.engine import Engine
        from core.selection import restrict

        engine = Engine(config, pins=pins)
    recorder = None
    if history is not None:
        from core.history import HistoryRecorder

        recorder = HistoryRecorder(history)
        engine.add_recorder(recorder)
    printer = asyncio.create_task(_print_logs(engine.subscribe())) if verbose else None
    try:
        run = asyncio.create_task(engine.run_once(targets, timeout=timeout))
        waiters: set[asyncio.Future[Any]] = {run, stop_signal}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
            snapshot, interrupted = engine.snapshot(), stop_signal.result()
        else:
            snapshot, interrupted = run.result(), None
        return (restrict(snapshot, only) if only else snapshot), interrupted
    finally:
        await engine.stop()  # a second signal meanwhile changes nothing: stopping is already under way
        if recorder is not None:
            await recorder.aclose()
        if printer is not None:
            await printer


async def _print_logs(view: ViewSubscription) -> None:
    """--verbose: the engine's events as log lines on stderr, worded as the monitor's log pane words them."""
    from core.loglines import log_line

    async for item in view:
        line = log_line(item)
        if line is None:
            continue
        who = f"{line.service}: " if line.service else ""
        try:
            print(f"{line.at:%H:%M:%S} {line.level.label:<7} {who}{line.message}", file=sys.stderr)
        except BrokenPipeError:  # whoever read the log left (`2>&1 | head`): the run and its report go on
            _discard_stream(sys.stderr)


def _print_schema() -> int:
    import json

    from core.config import config_json_schema

    return emit(json.dumps(config_json_schema(), indent=2, sort_keys=True), 0)


def run() -> None:
    """The `lookout` command: `main`, then exit with its code.

    Before the interpreter ends, everything is frozen out of the cyclic collector's sight: its last
    full collection at exit would walk every object the run made (the SDK's models, the fleet's
    state) only for the process to end, ~0.2-0.3 s of a `--once` run's wall time. Everything was
    closed explicitly before; the memory goes back to the system with the process. Not in `main`,
    which tests call in their own process.

    From the start, young collections are spaced (`core.collector.space_young_collections`): the
    terminal app allocates and frees thousands of objects a frame, the engine hundreds a probe,
    nearly all freed by reference counting; at Python's default every 700th allocation walked
    them for nothing (`bench/tui.py`, 500 services: 3.9 -> 3.1% and 2.8 -> 2.4% of a core)."""
    from core.collector import space_young_collections

    space_young_collections()
    code = main()
    import gc

    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
