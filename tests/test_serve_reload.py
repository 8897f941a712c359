"""`lookout serve` reloads its config on SIGHUP and when the file changes, and refuses a broken one.

The engine's reload itself (unchanged services keep their state and server process) is tested in
test_reload.py; here the daemon's triggers are: a real SIGHUP to a real `lookout serve` process, and
an edit of the file it watches.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_serve_prometheus import start_serve, wait_for

pytestmark = pytest.mark.slow


def _rewrite(path: Path, change: Any) -> None:
    document = yaml.safe_load(path.read_text())
    change(document["services"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _names(serve: Any) -> list[str]:
    return [service["name"] for service in serve.get("/api/v1/status").json()["services"]]


def _messages(serve: Any) -> list[str]:
    return [line["message"] for line in list(serve.lines)]


def test_sighup_reloads_the_config_and_a_broken_file_changes_nothing(tmp_path: Path, http_api: Any) -> None:
    serve = start_serve(tmp_path, http_api.url, "--no-watch")
    config = tmp_path / "services.yaml"
    try:
        assert _names(serve) == ["up", "broken", "github", "docs"]

        def swap(services: dict[str, Any]) -> None:
            services.pop("broken")
            services["added"] = {**services["up"], "tags": ["new"]}

        _rewrite(config, swap)
        assert _names(serve) == ["up", "broken", "github", "docs"], "--no-watch: only SIGHUP reloads"
        serve.process.send_signal(signal.SIGHUP)
        wait_for(lambda: _names(serve) == ["up", "github", "docs", "added"], "the reloaded fleet served")
        reloaded = wait_for(
            lambda: [m for m in _messages(serve) if m.startswith("config reloaded")], "a reload log line"
        )
        assert "1 added (added)" in reloaded[0] and "1 removed (broken)" in reloaded[0]
        assert "3 unchanged" in reloaded[0]

        config.write_text(config.read_text() + "\n  oops: [unclosed\n")
        serve.process.send_signal(signal.SIGHUP)
        wait_for(lambda: any("config not reloaded" in m for m in _messages(serve)), "the refusal logged")
        assert any("services.yaml:" in m for m in _messages(serve)), "the refusal names file and line"
        assert _names(serve) == ["up", "github", "docs", "added"]
        assert serve.process.poll() is None
    finally:
        assert serve.stop() == 0


def test_serve_reloads_when_the_file_changes(tmp_path: Path, http_api: Any) -> None:
    serve = start_serve(tmp_path, http_api.url)
    config = tmp_path / "services.yaml"
    try:
        _rewrite(config, lambda services: services.pop("github"))
        wait_for(lambda: _names(serve) == ["up", "broken", "docs"], "the edited fleet served")
        assert any(m.startswith("config reloaded") and "1 removed (github)" in m for m in _messages(serve))
    finally:
        assert serve.stop() == 0
