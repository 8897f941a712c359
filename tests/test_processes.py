"""What stdio servers start behind Lookout's back, and what they write at it.

Servers here are small scripts around the demo's SDK server that misbehave the way real ones do: they start
a helper in a session of its own (`setsid`, which escapes the process-group kill), or write one enormous
line. Lookout runs as a separate process (the command, or a short library program), so the subreaper it
turns on never changes the test runner itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import mcp.client.stdio
import pytest
from fixtures_procs import ROOT, lookout_argv, lookout_env, survivors, write_config
from helpers import lookout_measuring_peak, peak_mib

pytestmark = pytest.mark.slow  # stdio servers that fork daemons and flood output

SLEEPER = "import time; time.sleep(120)"

SETSID_HELPER_SERVER = f"""
import subprocess, sys
sys.path.insert(0, {str(ROOT)!r})
subprocess.Popen([sys.executable, "-c", {SLEEPER!r}], start_new_session=True)  # escapes killpg
from core.demo.mcp_servers import main
main(["docs"])
"""

DAEMONIZING_SERVER = f"""
import subprocess, sys
sys.path.insert(0, {str(ROOT)!r})
# A double fork: the helper loses its parent at once, while this server keeps running and relies on it.
# The helper lives until the file named by argv[1] appears (at most 120 s): its test decides when it ends.
helper = (
    "import os, time\\n"
    "deadline = time.monotonic() + 120\\n"
    f"while not os.path.exists({{(sys.argv[1] if len(sys.argv) > 1 else '')!r}}) and time.monotonic() < deadline:\\n"
    "    time.sleep(0.05)\\n"
)
starter = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', sys.argv[1]], start_new_session=True)"
subprocess.Popen([sys.executable, "-c", starter, helper]).wait()
from core.demo.mcp_servers import main
main(["docs"])
"""

HUGE_LINE_SERVER = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
chunk = b"x" * (1 << 20)
for _ in range(int(sys.argv[1])):
    os.write(1, chunk)
os.write(1, b"\\n")
from core.demo.mcp_servers import main
main(["docs"])
"""


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def _server(script: str, tag: str, *args: str, **extra: object) -> dict[str, object]:
    return {
        "kind": "mcp",
        "command": sys.executable,
        "args": [script, *args],
        "env": {"LOOKOUT_TEST_TAG": tag},
        **extra,
    }


def _run_program(tmp_path: Path, source: str, *args: str) -> dict[str, object]:
    """Run a short program that uses `core` as a library; it prints one JSON line of findings."""
    program = _script(tmp_path, "program.py", source)
    done = subprocess.run(
        [sys.executable, program, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=lookout_env(),
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fresh_probes_leave_no_setsid_helper_behind_while_the_monitor_runs(tmp_path, tag) -> None:
    """Each fresh probe starts a server that starts a `setsid` helper: after every probe, nothing is left."""
    script = _script(tmp_path, "server.py", SETSID_HELPER_SERVER)
    config = write_config(tmp_path / "services.yaml", {"fresh": _server(script, tag, session="fresh")})
    findings = _run_program(
        tmp_path,
        f"""
        import asyncio, json, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from core.config import load_config
        from core.engine import Engine
        from core.processes import enable_subreaper
        from fixtures_mcp import tagged_processes

        async def main(path, tag):
            subreaper = enable_subreaper()
            engine = Engine(load_config(path))
            statuses, left = [], []
            try:
                for _ in range(4):
                    snapshot = await engine.run_once()
                    statuses.append(snapshot.get("fresh").status.value)
                    left.append(len(tagged_processes(tag)))
            finally:
                await engine.stop()
            print(json.dumps({{"subreaper": subreaper, "statuses": statuses, "left": left}}))

        asyncio.run(main(sys.argv[1], sys.argv[2]))
        """,
        str(config),
        tag,
    )
    assert findings == {"subreaper": True, "statuses": ["up"] * 4, "left": [0] * 4}
    assert survivors(tag) == []


def test_once_leaves_no_setsid_helper_behind(tmp_path, tag) -> None:
    script = _script(tmp_path, "server.py", SETSID_HELPER_SERVER)
    services = {f"s{i}": _server(script, tag, session=session) for i, session in enumerate(["fresh", "persistent"])}
    config = write_config(tmp_path / "services.yaml", services)
    done = subprocess.run(
        lookout_argv("--once", "-c", str(config), "--format", "json"),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=lookout_env(),
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert survivors(tag) == []


def test_a_running_servers_daemon_is_left_alone_until_the_server_goes(tmp_path, tag) -> None:
    """An orphan whose server still runs may be the server's own backend: only once the server's session
    ends is it an orphan to end."""
    script = _script(tmp_path, "server.py", DAEMONIZING_SERVER)
    config = write_config(tmp_path / "services.yaml", {"daemon": _server(script, tag)})
    findings = _run_program(
        tmp_path,
        f"""
        import asyncio, json, os, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from core.config import load_config
        from core.engine import Engine
        from core.processes import enable_subreaper, reap_orphans_async
        from fixtures_mcp import tagged_processes
        from fixtures_procs import alive

        async def main(path, tag):
            enable_subreaper()
            engine = Engine(load_config(path))
            try:
                snapshot = await engine.run_once()
                server = snapshot.get("daemon").details.pid
                helpers = [pid for pid in tagged_processes(tag) if pid != server]
                killed = await reap_orphans_async()
                adopted = [pid for pid in helpers if open(f"/proc/{{pid}}/stat").read().split(")")[-1].split()[1]
                           == str(os.getpid())]
                kept = [pid for pid in helpers if alive(pid)]
            finally:
                await engine.stop()
            ended = [pid for pid in helpers if not alive(pid)]
            print(json.dumps({{"status": snapshot.get("daemon").status.value, "helpers": helpers,
                              "adopted": adopted, "killed": killed, "kept": kept, "ended": ended}}))

        asyncio.run(main(sys.argv[1], sys.argv[2]))
        """,
        str(config),
        tag,
    )
    helpers = findings["helpers"]
    assert findings["status"] == "up"
    assert len(helpers) == 1 and findings["adopted"] == helpers  # it did reparent to us...
    assert findings["killed"] == [] and findings["kept"] == helpers  # ...and was left running with its server
    assert findings["ended"] == helpers  # the server's session ended: so did its helper
    assert survivors(tag) == []


def test_a_daemon_that_ends_by_itself_is_reaped_not_left_a_zombie(tmp_path, tag) -> None:
    """Without `sole_owner` (a library host), an exited orphan can be reaped only if Lookout saw it alive and
    marked: a sweep while it runs remembers it, a sweep after it exits collects its status."""
    script = _script(tmp_path, "server.py", DAEMONIZING_SERVER)
    release = tmp_path / "helper-may-end"
    config = write_config(tmp_path / "services.yaml", {"daemon": _server(script, tag, str(release))})
    findings = _run_program(
        tmp_path,
        f"""
        import asyncio, json, os, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from core.config import load_config
        from core.engine import Engine
        from core.processes import enable_subreaper, reap_orphans
        from fixtures_mcp import tagged_processes
        from fixtures_procs import wait_for

        def state(pid):
            try:
                return open(f"/proc/{{pid}}/stat").read().split(")")[-1].split()[0]
            except OSError:
                return "gone"

        async def main(path, tag):
            enable_subreaper()
            engine = Engine(load_config(path))
            try:
                snapshot = await engine.run_once()
                server = snapshot.get("daemon").details.pid
                helpers = [pid for pid in tagged_processes(tag) if pid != server]
                reap_orphans()  # sees the helper alive, and leaves it to its running server
                seen = [state(pid) for pid in helpers]
                open({str(release)!r}, "w").close()  # now the helper ends by itself
                await asyncio.to_thread(wait_for, lambda: all(state(pid) == "Z" for pid in helpers), 60)
                exited = [state(pid) for pid in helpers]
                reap_orphans()
                after = [state(pid) for pid in helpers]
            finally:
                await engine.stop()
            print(json.dumps({{"seen": seen, "exited": exited, "after": after}}))

        asyncio.run(main(sys.argv[1], sys.argv[2]))
        """,
        str(config),
        tag,
    )
    assert findings["seen"] == ["S"]  # one helper, asleep, kept
    assert findings["exited"] == ["Z"]  # it ended by itself: a zombie only its adoptive parent can reap
    assert findings["after"] == ["gone"]
    assert survivors(tag) == []


def test_reaping_never_touches_children_that_are_not_lookouts(tmp_path, tag) -> None:
    """A host program's own children, and orphans that do not carry Lookout's mark, are not Lookout's to kill,
    and their exit statuses are not Lookout's to collect: the host still gets its child's exit code."""
    script = _script(tmp_path, "server.py", SETSID_HELPER_SERVER)
    config = write_config(tmp_path / "services.yaml", {"fresh": _server(script, tag, session="fresh")})
    findings = _run_program(
        tmp_path,
        f"""
        import asyncio, json, os, subprocess, sys, time
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from core.config import load_config
        from core.engine import Engine
        from core.processes import enable_subreaper, reap_orphans
        from fixtures_mcp import tagged_processes
        from fixtures_procs import alive, wait_for

        async def main(path, tag):
            enable_subreaper()
            own = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(7)"])
            starter = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', {SLEEPER!r}], "
                       "start_new_session=True)")
            subprocess.Popen([sys.executable, "-c", starter], env={{**os.environ, "LOOKOUT_TEST_TAG": tag + "-host"}}
                             ).wait()
            stranger = tagged_processes(tag + "-host")
            wait_for(lambda: not alive(own.pid), 30)  # exited, not yet waited for: a zombie only its parent may reap
            engine = Engine(load_config(path))
            try:
                snapshot = await engine.run_once()
            finally:
                await engine.stop()
            killed = reap_orphans()
            print(json.dumps({{"status": snapshot.get("fresh").status.value, "own_exit": own.wait(timeout=5),
                              "stranger_alive": [alive(pid) for pid in stranger], "killed": killed,
                              "lookouts_left": len(tagged_processes(tag))}}))
            for pid in stranger:
                os.kill(pid, 9)

        asyncio.run(main(sys.argv[1], sys.argv[2]))
        """,
        str(config),
        tag,
    )
    assert findings == {
        "status": "up",
        "own_exit": 7,
        "stranger_alive": [True],
        "killed": [],
        "lookouts_left": 0,
    }
    assert survivors(tag + "-host") == []


def test_a_server_writing_an_endless_line_costs_bounded_memory(tmp_path, tag) -> None:
    """200 MiB without a newline, then a normal MCP conversation: the line is skipped, the server is up, and
    Lookout's peak memory stays far below the line's size."""
    script = _script(tmp_path, "server.py", HUGE_LINE_SERVER)
    config = write_config(tmp_path / "services.yaml", {"huge": _server(script, tag, "200")})
    peak_file = tmp_path / "peak"
    run = subprocess.run(
        lookout_measuring_peak(peak_file, "--once", "-c", str(config), "--format", "json"),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=lookout_env(),
        timeout=240,
    )
    report = json.loads(run.stdout)
    assert report["services"][0]["status"] == "up", report["services"][0]["reason"]
    assert run.returncode == 0, run.stderr
    assert peak_mib(peak_file) < 150  # Lookout's own peak; an unbounded read would need over 200
    assert survivors(tag) == []


def test_line_framing_splits_joins_and_skips_what_is_too_long() -> None:
    from core.probes.mcp.framing import MAX_MESSAGE_BYTES, LineFramer, OversizedMessage

    framer = LineFramer(limit=10)
    assert framer.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert framer.feed(b":2}\n\n") == [b'{"b":2}', b""]
    too_long = framer.feed(b"x" * 25)
    assert len(too_long) == 1 and isinstance(too_long[0], OversizedMessage)
    assert framer.feed(b"x" * 5) == []  # still the same long line: reported once, never buffered
    assert framer.feed(b'xx\n{"c":3}\n') == [b'{"c":3}']
    assert isinstance(LineFramer(limit=4).feed(b"12345\n")[0], OversizedMessage)  # a whole line, too long
    assert MAX_MESSAGE_BYTES >= 8 * 1024 * 1024  # well above a large but honest tool list


def test_the_sdk_is_left_unpatched() -> None:
    """Lookout spawns stdio servers itself; the SDK's spawn function stays the SDK's, for everyone."""
    import core.probes.mcp.stdio  # noqa: F401  (importing it is what used to patch the SDK)

    assert mcp.client.stdio._create_platform_compatible_process.__module__ == "mcp.client.stdio"
