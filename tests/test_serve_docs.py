"""The README's "Run unattended" section agrees with the code, and its systemd unit is valid."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.details import McpDetails
from core.ratelimit import RateLimit
from core.serve import DEFAULT_HOST, DEFAULT_PORT
from core.serve.counters import ServiceCounts
from core.serve.metrics import MetricsFrame, render
from core.snapshot import FleetSnapshot, ProbeTally, ServiceInfo, ServiceLive, ServiceSnapshot

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Run unattended") :]
SECTION = SECTION[: SECTION.index("\n## ", 1)]


def unit_text() -> str:
    match = re.search(r"```ini\n(.*?)```", SECTION, re.S)
    assert match, "the section has a systemd unit in an ini block"
    return match.group(1)


def test_the_documented_default_address_is_the_codes() -> None:
    assert f"{DEFAULT_HOST}:{DEFAULT_PORT}" in SECTION


def test_every_metric_served_is_documented() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    everything = ServiceSnapshot(
        ServiceInfo("s", "mcp", "x", transport="stdio"),
        live=ServiceLive(rate_limits=(RateLimit("core", limit=1, remaining=1, reset_at=now),)),
        tally=ProbeTally(details=McpDetails()),
    )
    counts = {"s": ServiceCounts(breaker_transitions={"open": 1}, cold_start=1.0)}
    text = render(MetricsFrame(FleetSnapshot(taken_at=now, services=(everything,)), counts))[0].decode()
    served = {family.name for family in text_string_to_metric_families(text)}
    documented = set(re.findall(r"`(lookout_[a-z_]+)", SECTION))
    documented |= {f"lookout_rate_limit{suffix}" for suffix in re.findall(r"`(_[a-z_]+)\{resource\}`", SECTION)}
    missing = {name for name in served if name not in documented and f"{name}_total" not in documented}
    assert not missing, f"served but not in the README: {sorted(missing)}"


def test_the_unit_stops_with_lookouts_own_signal_handling_and_restarts_on_failure() -> None:
    unit = unit_text()
    assert "KillMode=mixed" in unit.splitlines()
    assert "Restart=on-failure" in unit.splitlines()
    assert re.search(r"^ExecStart=\S+ serve ", unit, re.M)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (package systemd)")
def test_systemd_analyze_verifies_the_unit(tmp_path) -> None:
    """`systemd-analyze verify` also checks that ExecStart's program exists: the README names where a system
    install puts it; where nothing is installed there, the test points it at this environment's `lookout`."""
    unit = unit_text()
    program = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)  # type: ignore[union-attr]
    if not Path(program).exists():
        local = shutil.which("lookout") or str(Path(sys.executable).parent / "lookout")
        if not Path(local).exists():
            pytest.skip("no `lookout` executable installed to point ExecStart at")
        unit = unit.replace(f"ExecStart={program}", f"ExecStart={local}")
    path = tmp_path / "lookout.service"
    path.write_text(unit)
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    findings = [line for line in (checked.stdout + checked.stderr).splitlines() if "lookout.service" in line]
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert findings == [], "systemd ignores a misspelt setting with only a warning: there must be none"
