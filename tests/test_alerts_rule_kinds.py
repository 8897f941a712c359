"""The `tools_changed` and `token_expiring` alert rules, against a real engine and real loopback servers.

An SDK MCP server whose tools change when a file says so (pins kept in a real pin store), and a uvicorn
HTTP API answering GitHub's token-expiration header. Time is a FakeClock: the token's expiry is set
relative to it, and moving it moves the expiry closer. The sink is a list: where the evaluator's
decisions go, not the thing under test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures_alert_rules import FAST, ListSink, Upstream
from fixtures_mcp import stdio_service, tagged_processes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.alerts.evaluator import AlertEvaluator
from core.alerts.notification import Transition
from core.clock import FakeClock
from core.config import Config, ConfigError, parse_config
from core.demo.serve import serve_in_thread
from core.details import McpDetails
from core.engine import Engine
from core.pins.store import PinStore
from core.results import ProbeResult, Status

THURSDAY = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
CHANGED = "tool delete_records annotations.destructiveHint, outputSchema, title changed since approved"
TOKEN = "tok-" + "f00dfeed" * 4


def config_for(services: dict[str, dict[str, Any]], *rules: dict[str, Any]) -> Config:
    alerts = {
        "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
        "rules": [{"channels": ["hook"], **rule} for rule in rules],
    }
    text = yaml.safe_dump({"defaults": FAST, "services": services, "alerts": alerts}, sort_keys=False)
    return parse_config(text, source="test.yaml", env={})


@dataclass
class Rig:
    engine: Engine
    clock: FakeClock
    sink: ListSink
    evaluator: AlertEvaluator

    async def probe(self, name: str) -> ProbeResult:
        """Probe every service once; the result of `name`, after the evaluator has seen everything."""
        snapshot = await self.engine.run_once()
        await self.evaluator.join()
        result = snapshot.get(name).last_result
        assert result is not None
        return result

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await self.evaluator.join()


@asynccontextmanager
async def rig(config: Config, *, pins: PinStore | None = None) -> AsyncIterator[Rig]:
    """An idle engine (probes only when told) with the evaluator recording, as `lookout serve` wires it."""
    clock = FakeClock(THURSDAY)
    engine = Engine(config, clock=clock, pins=pins)
    sink = ListSink()
    evaluator = AlertEvaluator(engine, sink)
    engine.add_recorder(evaluator)
    evaluator.start()
    try:
        yield Rig(engine, clock, sink, evaluator)
    finally:
        await engine.stop()
        await evaluator.aclose()


# -- tools_changed -------------------------------------------------------------------------------


def pin_of(result: ProbeResult) -> McpDetails:
    assert isinstance(result.details, McpDetails)
    return result.details


@pytest.mark.slow  # starts an MCP server process per probe
async def test_tools_changed_fires_once_per_change_and_resolves_on_approval_or_revert(
    tmp_path: Path, tag: str, upstream: Upstream
) -> None:
    state = tmp_path / "state"
    state.write_text("base")
    upstream.set(503, "rug-root")
    services = {
        "root": {"kind": "http", "url": upstream.at("rug-root")},  # down: tools_changed is not inhibited by it
        "rug": stdio_service("rug-pull", "--state", str(state), tag=tag, timeout="15s", depends_on=["root"]),
    }
    rule = {"name": "tools", "when": "tools_changed", "failures": 2, "services": ["rug"]}
    pins = PinStore(tmp_path / "history.db")
    try:
        async with rig(config_for(services, rule), pins=pins) as r:
            assert pin_of(await r.probe("rug")).pin == "pinned"
            state.write_text("annotations")
            first = await r.probe("rug")
            assert pin_of(first).pin == "changed" and first.reason == CHANGED
            assert r.sink.sent == [], "one changed probe of the two `failures` asks for, counted once"
            await r.probe("rug")
            await r.probe("rug")
            assert r.sink.transitions("rug") == [Transition.FIRING]
            firing = r.sink.sent[0]
            assert (firing.rule, firing.severity, firing.reason) == ("tools", "warning", CHANGED)
            assert firing.dependants == ()

            state.write_text("base")  # the server went back to the approved tools
            assert pin_of(await r.probe("rug")).pin == "approved"
            assert r.sink.transitions("rug") == [Transition.FIRING, Transition.RESOLVED]

            await r.advance(60)  # incidents are named by rule, service and when they opened
            state.write_text("annotations")
            await r.probe("rug")
            changed = await r.probe("rug")
            assert r.sink.transitions("rug") == [Transition.FIRING, Transition.RESOLVED, Transition.FIRING]
            assert pins.approve("rug", 1.0, expected=pin_of(changed).tools_fingerprint) is not None
            approved = await r.probe("rug")
            assert approved.status is Status.UP and pin_of(approved).pin == "approved"
            assert r.sink.transitions("rug") == [Transition.FIRING, Transition.RESOLVED] * 2
            second, resolved = r.sink.sent[2:]
            assert second.incident_id == resolved.incident_id != firing.incident_id
    finally:
        pins.close()
    assert tagged_processes(tag) == []


async def test_without_pins_tools_changed_says_nothing(upstream: Upstream) -> None:
    """An HTTP service (or an MCP one without a pin store) has no pin verdict: never bad, never pending."""
    services = {"api": {"kind": "http", "url": upstream.at("no-pins")}}
    async with rig(config_for(services, {"name": "tools", "when": "tools_changed"})) as r:
        await r.probe("api")
        assert r.evaluator.alert_state("api") == ()
    assert r.sink.sent == []


# -- token_expiring ------------------------------------------------------------------------------


class ExpiringApi:
    """An API that accepts one bearer token and says when it expires, as GitHub does."""

    def __init__(self) -> None:
        self.expiry = ""
        self.accepted = TOKEN

    async def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.accepted}":
            return JSONResponse({"message": "Bad credentials"}, 401)
        return JSONResponse({"login": "lookout"}, headers={"github-authentication-token-expiration": self.expiry})

    def expires(self, when: datetime) -> None:
        self.expiry = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@pytest.fixture
def expiring_api() -> Iterator[tuple[ExpiringApi, str]]:
    api = ExpiringApi()
    served = serve_in_thread(Starlette(routes=[Route("/user", api.handle)]))
    try:
        yield api, f"{served.url}/user"
    finally:
        served.stop()


async def test_token_expiring_fires_within_its_horizon_and_resolves_with_a_new_token(
    expiring_api: tuple[ExpiringApi, str],
) -> None:
    api, url = expiring_api
    api.expires(THURSDAY + timedelta(days=3, hours=1))
    service = {"kind": "http", "url": url, "headers": {"Authorization": f"Bearer {TOKEN}"}, "token_warn": "1d"}
    rules = [
        {"name": "week", "when": {"token_expiring": "7d"}},
        {"name": "two-days", "when": {"token_expiring": "2d"}},
    ]
    async with rig(config_for({"gh": service}, *rules)) as r:
        result = await r.probe("gh")
        assert result.status is Status.UP, "token_warn is 1d: the service itself is healthy"
        assert [(n.rule, n.transition) for n in r.sink.sent] == [("week", Transition.FIRING)]
        firing = r.sink.sent[0]
        assert firing.reason == "token expires in 3 days (GitHub token expiration header)"
        assert firing.severity == "warning"

        await r.advance(2 * 86400)  # a day and an hour left now
        await r.probe("gh")
        assert [(n.rule, n.transition) for n in r.sink.sent][1:] == [("two-days", Transition.FIRING)]
        assert r.sink.sent[1].reason == "token expires in 25 hours (GitHub token expiration header)"

        api.expires(THURSDAY + timedelta(days=90))  # a new token
        await r.probe("gh")
    assert sorted((n.rule, n.transition) for n in r.sink.sent[2:]) == [
        ("two-days", Transition.RESOLVED),
        ("week", Transition.RESOLVED),
    ]
    assert TOKEN not in "".join(n.reason for n in r.sink.sent)


def jwt(expires: datetime) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'sub': 'lookout', 'exp': int(expires.timestamp())})}.c2lnbmF0dXJl"


async def test_token_expiring_reads_a_jwt_s_exp_when_the_api_says_nothing(
    expiring_api: tuple[ExpiringApi, str],
) -> None:
    api, url = expiring_api
    api.accepted = jwt(THURSDAY + timedelta(days=5, hours=1))
    service = {"kind": "http", "url": url, "headers": {"Authorization": f"Bearer {api.accepted}"}, "token_warn": "1d"}
    async with rig(config_for({"jwt": service}, {"name": "week", "when": {"token_expiring": "7d"}})) as r:
        assert (await r.probe("jwt")).status is Status.UP
    assert [n.reason for n in r.sink.sent] == ["token expires in 5 days (JWT exp claim)"]


async def test_a_refused_token_leaves_token_expiring_to_the_down_rule(expiring_api: tuple[ExpiringApi, str]) -> None:
    """A probe without an answer says nothing about expiry: the open incident neither resolves nor repeats."""
    api, url = expiring_api
    api.expires(THURSDAY + timedelta(days=3))
    service = {"kind": "http", "url": url, "headers": {"Authorization": f"Bearer {TOKEN}"}}
    rules = [{"name": "week", "when": {"token_expiring": "7d"}}, {"name": "down", "when": "down"}]
    async with rig(config_for({"gh": service}, *rules)) as r:
        await r.probe("gh")
        assert [(n.rule, n.transition) for n in r.sink.sent] == [("week", Transition.FIRING)]
        api.accepted = "a-token-issued-since"  # ours is refused now
        refused = await r.probe("gh")
        assert refused.status is Status.DOWN and refused.http_status == 401
        await r.probe("gh")
    assert [(n.rule, n.transition) for n in r.sink.sent] == [("week", Transition.FIRING), ("down", Transition.FIRING)]


def test_rule_kind_errors_name_file_and_line_once() -> None:
    text = """\
services:
  api: {kind: http, url: "http://127.0.0.1:9"}
alerts:
  channels:
    hook: {type: webhook, url: "http://127.0.0.1:9/hook"}
  rules:
    - name: a
      when: tools_chnged
      channels: [hook]
    - name: b
      when: {token_expiring: soon}
      channels: [hook]
    - name: c
      when: {token_expirin: 7d}
      channels: [hook]
    - name: d
      when: {tools_changed: 1}
      channels: [hook]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="services.yaml", env={})
    assert [str(issue) for issue in caught.value.issues] == [
        "services.yaml:8: alerts.rules[0].when: unknown condition 'tools_chnged' (did you mean 'tools_changed'?)",
        "services.yaml:11: alerts.rules[1].when: token_expiring: 'soon' is not a duration: "
        "use 500ms, 10s, 2m, 1h or a number of seconds",
        "services.yaml:14: alerts.rules[2].when: unknown condition 'token_expirin' (did you mean 'token_expiring'?)",
        "services.yaml:17: alerts.rules[3].when: tools_changed takes no value: write `when: tools_changed`",
    ]
    good = parse_config(
        text.replace("tools_chnged", "tools_changed")
        .replace("soon", "7d")
        .replace("token_expirin:", "token_expiring:")
        .replace("{tools_changed: 1}", "{rate_limit_below: 10%}"),
        source="services.yaml",
        env={},
    )
    assert good.alerts is not None
    assert [rule.condition for rule in good.alerts.rules] == [
        "tools_changed",
        "token_expiring",
        "token_expiring",
        "rate_limit_below",
    ]
    assert {rule.effective_severity for rule in good.alerts.rules} == {"warning"}


def test_a_tools_changed_rule_aimed_only_at_http_apis_is_refused() -> None:
    """Only MCP servers have tools: a rule that selects HTTP APIs alone would never fire, so it is an error."""
    text = """\
services:
  api: {kind: http, url: "http://127.0.0.1:9", tags: [web]}
  tools: {kind: mcp, command: "true", tags: [agents]}
alerts:
  channels:
    hook: {type: webhook, url: "http://127.0.0.1:9/hook"}
  rules:
    - name: a
      when: tools_changed
      services: [api]
      channels: [hook]
    - name: b
      when: tools_changed
      tags: [web]
      kinds: [http]
      channels: [hook]
"""
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="services.yaml", env={})
    problem = "tools_changed watches MCP servers' tools, and this rule's services, tags and kinds select none"
    assert [str(issue) for issue in caught.value.issues] == [
        f"services.yaml:9: alerts.rules[0].when: {problem}",
        f"services.yaml:13: alerts.rules[1].when: {problem}",
    ]
    good = parse_config(
        text.replace("services: [api]", "services: [api, tools]").replace("tags: [web]", "tags: [web, agents]"),
        source="services.yaml",
        env={},
    )
    assert good.alerts is not None and len(good.alerts.rules) == 2
    # a rule naming nobody applies to every service: a fleet without an MCP server yet is fine
    http_only = text.split("  tools:")[0] + "alerts:" + text.split("alerts:")[1].split("    - name: b")[0]
    unselected = parse_config(http_only.replace("      services: [api]\n", ""), source="services.yaml", env={})
    assert unselected.alerts is not None and [rule.name for rule in unselected.alerts.rules] == ["a"]
