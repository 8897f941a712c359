"""Signals as cron, systemd, ssh and the OOM killer send them: Lookout stops its servers and says why.

Every test runs the real `lookout` command as a child process, with stdio servers that outlive a careless
parent (they ignore their closed stdin), and then looks in /proc for anything left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from fixtures_mcp import tagged_processes
from fixtures_procs import (
    GRACE,
    ROOT,
    Terminal,
    alive,
    descendants,
    lookout_argv,
    lookout_env,
    stuck_servers,
    survivors,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.slow  # signals to real `lookout` processes and their server fleets

STARTED = 90.0
"""How long the servers may take to appear (the interpreter and the SDK load slowly on a busy machine)."""
EXITED = 60.0
"""How long Lookout may take to stop after a signal: the bug is that it never stops its servers at all."""


def _start_once(config, fmt: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        lookout_argv("--once", "-c", str(config), "--format", fmt, "--timeout", "5m"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=lookout_env(),
    )


@pytest.mark.parametrize(
    ("signum", "fmt"),
    [(signal.SIGTERM, "nagios"), (signal.SIGTERM, "json"), (signal.SIGHUP, "table")],
    ids=["term-nagios", "term-json", "hup-table"],
)
def test_once_stopped_by_a_signal_is_unknown_and_takes_its_servers_along(tmp_path, tag, signum, fmt) -> None:
    config = write_config(tmp_path / "services.yaml", stuck_servers(tag))
    run = _start_once(config, fmt)
    try:
        assert wait_for(lambda: len(tagged_processes(tag)) == 2, STARTED), "the servers never started"
        servers = tagged_processes(tag)
        run.send_signal(signum)
        out, err = run.communicate(timeout=EXITED)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 3, (out, err)
    assert "Traceback" not in err
    reason = f"interrupted by {signum.name}"
    if fmt == "nagios":
        assert out.strip() == f"LOOKOUT UNKNOWN - {reason}"
    elif fmt == "json":
        report = json.loads(out)
        assert (report["status"], report["exit_code"], report["reason"]) == ("unknown", 3, reason)
        assert {s["name"] for s in report["services"]} == {"slow", "silent"}
    else:
        assert out == ""
        assert reason in err
    assert survivors(tag, servers) == []


def test_once_killed_outright_still_takes_its_servers_along(tmp_path, tag) -> None:
    """SIGKILL cannot be handled: the servers die because the kernel kills them with their parent."""
    config = write_config(tmp_path / "services.yaml", stuck_servers(tag))
    run = _start_once(config, "nagios")
    try:
        assert wait_for(lambda: len(tagged_processes(tag)) == 2, STARTED), "the servers never started"
        servers = tagged_processes(tag)
        run.kill()
        run.communicate(timeout=EXITED)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == -signal.SIGKILL
    assert survivors(tag, servers) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_monitor_exits_128_plus_signal_and_leaves_nothing(tmp_path, tag, signum) -> None:
    config = write_config(tmp_path / "services.yaml", stuck_servers(tag))
    terminal = Terminal(lookout_argv("-c", str(config)), env=lookout_env())
    try:
        assert wait_for(lambda: len(tagged_processes(tag)) == 2, STARTED), bytes(terminal.screen[-500:])
        servers = tagged_processes(tag)
        terminal.process.send_signal(signum)
        code = terminal.process.wait(timeout=EXITED)
    finally:
        terminal.close()
    assert code == 128 + signum
    assert survivors(tag, servers) == []


def test_monitor_whose_terminal_hangs_up_stops_and_leaves_nothing(tmp_path, tag) -> None:
    """An ssh session that drops: the terminal's far end closes, the kernel sends SIGHUP (and SIGCONT), and
    every write to the screen fails from then on. Lookout must still stop its servers and exit."""
    config = write_config(tmp_path / "services.yaml", stuck_servers(tag))
    terminal = Terminal(lookout_argv("-c", str(config)), env=lookout_env())
    try:
        assert wait_for(lambda: len(tagged_processes(tag)) == 2, STARTED), bytes(terminal.screen[-500:])
        servers = tagged_processes(tag)
        terminal.hang_up()
        code = terminal.process.wait(timeout=EXITED)
    finally:
        terminal.close()
    assert code == 128 + signal.SIGHUP
    assert survivors(tag, servers) == []


def test_demo_stops_its_whole_fleet_on_sigterm() -> None:
    terminal = Terminal(lookout_argv("demo"), env=lookout_env())
    try:
        # The demo's stdio MCP servers are the processes it starts; wait until a few of them run.
        assert wait_for(lambda: len(descendants(terminal.pid)) >= 3, STARTED), bytes(terminal.screen[-500:])
        before = descendants(terminal.pid)
        terminal.process.send_signal(signal.SIGTERM)
        code = terminal.process.wait(timeout=EXITED)
    finally:
        terminal.close()
    assert code == 128 + signal.SIGTERM
    assert wait_for(lambda: not any(alive(pid) for pid in before), GRACE), [p for p in before if alive(p)]


# -- a reader that goes away (`lookout --once | head -3`) -----------------------------------------------------


def _refused_fleet(tmp_path, free_port, count: int = 1):
    services = {f"api-{i:03d}": {"kind": "http", "url": f"http://127.0.0.1:{free_port}/"} for i in range(count)}
    return write_config(tmp_path / "services.yaml", services, timeout="5s")


@pytest.mark.parametrize("fmt", ["table", "json", "nagios"])
def test_once_into_a_closed_pipe_exits_quietly_with_the_run_code(tmp_path, free_port, fmt) -> None:
    """The reader is gone before the report is written (what `| head -1` leads to once head has its line)."""
    config = _refused_fleet(tmp_path, free_port)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            lookout_argv("--once", "-c", str(config), "--format", fmt),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=lookout_env(),
            timeout=EXITED,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 2  # the service is down: the code the run had, whoever stopped reading


@pytest.mark.parametrize("fmt", ["table", "json", "nagios"])
def test_once_piped_into_head_exits_quietly_with_the_run_code(tmp_path, free_port, fmt) -> None:
    config = _refused_fleet(tmp_path, free_port, count=3000)  # a report far larger than a pipe holds (64 KiB)
    run = subprocess.Popen(
        lookout_argv("--once", "-c", str(config), "--format", fmt, "--color", "never"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=lookout_env(COLUMNS="100"),
    )
    head = subprocess.Popen(["head", "-1"], stdin=run.stdout, stdout=subprocess.PIPE)
    assert run.stdout is not None and run.stderr is not None
    run.stdout.close()
    first, _ = head.communicate(timeout=EXITED)
    err = run.stderr.read().decode()
    run.stderr.close()
    assert run.wait(timeout=EXITED) == 2, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert first


def test_verbose_log_reader_going_away_does_not_cost_the_report(tmp_path, free_port) -> None:
    config = _refused_fleet(tmp_path, free_port)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            lookout_argv("--once", "-v", "-c", str(config), "--format", "nagios"),
            stdout=subprocess.PIPE,
            stderr=write_end,
            text=True,
            cwd=ROOT,
            env=lookout_env(),
            timeout=EXITED,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 2
    assert done.stdout.startswith("LOOKOUT CRITICAL - 1 down")
