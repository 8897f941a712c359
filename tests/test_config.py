"""services.yaml: every malformed file gets one exact, located message; valid files load as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from core.config import ConfigError, HttpService, McpService, config_json_schema, load_config, parse_config
from core.config.yamlnodes import load_with_lines
from tests.helpers import idle_engine
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent

MALFORMED = [
    (
        "retry attempts below one",
        "services:\n  a:\n    kind: http\n    url: http://127.0.0.1:9\n    retry: {attempts: 0}\n",
        "services.yaml:5: services.a.retry.attempts: must be >= 1 (got 0)",
    ),
    (
        "misspelt field",
        "services:\n  a:\n    kind: http\n    url: http://127.0.0.1:9\n    retyr: {attempts: 2}\n",
        "services.yaml:5: services.a.retyr: unknown field (did you mean 'retry'?)",
    ),
    (
        "bad duration in defaults",
        "defaults:\n  interval: 10x\nservices:\n  a: {kind: http, url: 'http://127.0.0.1:9'}\n",
        "services.yaml:2: defaults.interval: '10x' is not a duration: use 500ms, 10s, 2m, 1h or a number of seconds",
    ),
    (
        "duplicate service name",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9'}\n  a: {kind: http, url: 'http://127.0.0.1:8'}\n",
        "services.yaml:3: services.a: duplicate service name 'a' (first defined on line 2)",
    ),
    (
        "dependency cycle",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', depends_on: [b]}\n"
        "  b: {kind: http, url: 'http://127.0.0.1:9', depends_on: [a]}\n",
        "services.yaml:2: services.a.depends_on: dependency cycle: a -> b -> a",
    ),
    (
        "unknown dependency",
        "services:\n  base: {kind: http, url: 'http://127.0.0.1:9'}\n"
        "  a: {kind: http, url: 'http://127.0.0.1:9', depends_on: [bsae]}\n",
        "services.yaml:3: services.a.depends_on[0]: unknown service 'bsae' (did you mean 'base'?)",
    ),
    (
        "missing environment variable",
        "services:\n  a:\n    kind: http\n    url: http://127.0.0.1:9\n"
        "    headers: {Authorization: 'Bearer ${NOPE_TOKEN}'}\n",
        "services.yaml:5: services.a.headers.Authorization: environment variable NOPE_TOKEN is not set "
        "(write ${NOPE_TOKEN:-} to make it optional)",
    ),
    (
        "unknown kind",
        "services:\n  a: {kind: htp, url: 'http://127.0.0.1:9'}\n",
        "services.yaml:2: services.a.kind: must be http or mcp (got 'htp'; did you mean 'http'?)",
    ),
    (
        "no kind",
        "services:\n  a: {url: 'http://127.0.0.1:9'}\n",
        "services.yaml:2: services.a: kind: required: http or mcp",
    ),
    (
        "stdio server without command",
        "services:\n  a: {kind: mcp, transport: stdio}\n",
        "services.yaml:2: services.a: a stdio MCP server needs `command` (or set transport: http with a url)",
    ),
    (
        "unknown transport",
        "services:\n  a: {kind: mcp, transport: websocket, url: 'http://127.0.0.1:9'}\n",
        "services.yaml:2: services.a.transport: must be one of 'stdio', 'http' or 'sse' (got 'websocket')",
    ),
    (
        "YAML syntax error",
        "services:\n  a: {kind: http\n",
        "services.yaml:2: invalid YAML: a flow mapping opened here is not closed: "
        "did not find expected ',' or '}' (line 3)",
    ),
    ("empty file", "", "services.yaml: the file is empty: expected a `services:` mapping"),
    ("a list, not a mapping", "- a\n- b\n", "services.yaml:1: expected a mapping with `services:` at the top level"),
    (
        "status code out of range",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', expect: {status: [600]}}\n",
        "services.yaml:2: services.a.expect.status[0]: must be <= 599 (got 600)",
    ),
    (
        "percentage out of range",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', rate_limit: {warn_below: 150%}}\n",
        "services.yaml:2: services.a.rate_limit.warn_below: '150%' is out of range: use 0%..100% (or 0..1)",
    ),
    (
        "not an http URL",
        "services:\n  a: {kind: http, url: 'ftp://x'}\n",
        "services.yaml:2: services.a.url: 'ftp://x' is not an http:// or https:// URL",
    ),
    (
        "misspelt top level",
        "servics:\n  a: {kind: http, url: 'http://127.0.0.1:9'}\n",
        "services.yaml:1: servics: unknown top-level field (did you mean 'services'?); "
        "expected one of defaults, services, mcpServers, alerts",
    ),
    (
        "fractional attempts",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', retry: {attempts: 2.5}}\n",
        "services.yaml:2: services.a.retry.attempts: must be a whole number (got 2.5)",
    ),
    (
        "tags not a list",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', tags: api}\n",
        "services.yaml:2: services.a.tags: must be a list (got 'api')",
    ),
    (
        "zero interval",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', interval: 0}\n",
        "services.yaml:2: services.a.interval: must be > 0 (got 0)",
    ),
    (
        "unknown HTTP method",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', method: FETCH}\n",
        "services.yaml:2: services.a.method: 'FETCH' is not an HTTP method: "
        "use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
    ),
    (
        "unknown session mode",
        "services:\n  a: {kind: mcp, command: x, session: sometimes}\n",
        "services.yaml:2: services.a.session: must be one of 'persistent' or 'fresh' (got 'sometimes')",
    ),
    (
        "depends on itself",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', depends_on: [a]}\n",
        "services.yaml:2: services.a.depends_on[0]: a service cannot depend on itself",
    ),
    (
        "unterminated variable",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9/${HOME'}\n",
        "services.yaml:2: services.a.url: unterminated '${': write '$$' for a literal '$'",
    ),
    (
        "tool call without a tool",
        "services:\n  a: {kind: mcp, command: x, call: {arguments: {}}}\n",
        "services.yaml:2: services.a.call.tool: required",
    ),
    (
        "service is a string",
        "services:\n  a: just-a-string\n",
        "services.yaml:2: services.a: must be a mapping of settings (kind, url or command, ...)",
    ),
    ("no services", "defaults: {interval: 5s}\n", "services.yaml:1: no services defined"),
    (
        "duration in wrong unit",
        "services:\n  a:\n    kind: http\n    url: http://127.0.0.1:9\n    timeout: 5 seconds\n",
        "services.yaml:5: services.a.timeout: '5 seconds' is not a duration: "
        "use 500ms, 10s, 2m, 1h or a number of seconds",
    ),
    (
        "http service with MCP fields",
        "services:\n  a:\n    kind: http\n    url: http://127.0.0.1:9\n    command: npx\n",
        "services.yaml:5: services.a.command: unknown field; known fields: body, breaker, depends_on, "
        "description, expect, fresh_connection, headers, interval, kind, max_body, method, rate_limit, retry, "
        "tags, timeout, token_cache, token_command, token_warn, url",
    ),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_config_has_one_exact_message(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="services.yaml", env={})
    assert str(caught.value) == message


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    text = (
        "services:\n"
        "  a:\n    kind: http\n    url: http://127.0.0.1:9\n    retry: {attempts: 0}\n"
        "  b:\n    kind: http\n    url: http://127.0.0.1:9\n    breaker: {fail_max: 0}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="s.yaml", env={})
    assert str(caught.value).splitlines() == [
        "s.yaml: 2 problems",
        "  s.yaml:5: services.a.retry.attempts: must be >= 1 (got 0)",
        "  s.yaml:9: services.b.breaker.fail_max: must be >= 1 (got 0)",
    ]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_defaults_apply_field_by_field() -> None:
    config = parse_config(
        "defaults:\n  interval: 2m\n  retry: {attempts: 4, initial: 250ms}\n  breaker: {fail_max: 2}\n"
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', retry: {attempts: 1}, timeout: 1500ms}\n",
        env={},
    )
    service = config.services["a"]
    assert isinstance(service, HttpService)
    assert service.interval == 120 and service.timeout == 1.5
    assert (service.retry.attempts, service.retry.initial, service.retry.max) == (1, 0.25, 8.0)
    assert service.breaker.fail_max == 2
    assert service.name == "a"


def test_environment_interpolation_and_dropped_empty_credentials() -> None:
    text = (
        "services:\n"
        "  a:\n    kind: http\n    url: 'http://127.0.0.1:${PORT:-8080}/$$x'\n"
        "    headers: {Authorization: 'Bearer ${TOKEN:-}', Accept: application/json}\n"
    )
    without = parse_config(text, env={}).services["a"]
    assert without.url == "http://127.0.0.1:8080/$x"
    assert without.headers == {"Accept": "application/json"}  # an unset optional token sends no header
    with_token = parse_config(text, env={"TOKEN": "s3cr3t-value", "PORT": "9"}).services["a"]
    assert with_token.url == "http://127.0.0.1:9/$x"
    assert with_token.headers["Authorization"] == "Bearer s3cr3t-value"


def test_environment_secrets_are_masked_everywhere_the_config_prints() -> None:
    config = parse_config(
        "services:\n  a:\n    kind: mcp\n    command: npx\n    args: [--key, '${API_KEY}']\n"
        "    env: {SERVICE_TOKEN: '${API_KEY}', MODE: fast}\n",
        env={"API_KEY": "abcd-1234-secret"},
    )
    assert config.redact("failed with --key abcd-1234-secret") == "failed with --key ***"
    # Every env value of a stdio server is a credential position: masked in the env display...
    assert config.redactor.env({"SERVICE_TOKEN": "abcd-1234-secret", "MODE": "fast"}) == {
        "SERVICE_TOKEN": "***",
        "MODE": "***",
    }
    # ...but a short, harmless-named one is not hunted down in free text, where "fast" is just a word.
    assert config.redact("mode fast") == "mode fast"
    assert config.redactor.headers({"Authorization": "Bearer abcd-1234-secret"}) == {"Authorization": "Bearer ***"}


def test_literal_tokens_in_headers_are_treated_as_secrets() -> None:
    config = parse_config(
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9', headers: {Authorization: 'token ghp_literal123'}}\n",
        env={},
    )
    assert config.redact("sent token ghp_literal123") == "sent token ***"


def test_mcp_client_block_loads_as_services() -> None:
    config = parse_config(
        json.dumps(
            {
                "mcpServers": {
                    "fs": {"command": "npx", "args": ["-y", "server-fs", "/tmp"], "autoApprove": []},
                    "remote": {"type": "streamable-http", "url": "https://mcp.example.com/mcp"},
                    "legacy": {"type": "sse", "url": "https://mcp.example.com/sse"},
                    "off": {"command": "x", "disabled": True},
                },
                "globalShortcut": "Ctrl+Space",  # other client settings are ignored in a client config file
            }
        ),
        env={},
    )
    assert list(config.services) == ["fs", "remote", "legacy"]
    fs, remote, legacy = (config.services[n] for n in ("fs", "remote", "legacy"))
    assert isinstance(fs, McpService) and fs.transport == "stdio" and fs.args == ["-y", "server-fs", "/tmp"]
    assert remote.transport == "http" and legacy.transport == "sse"


def test_shipped_services_yaml_is_valid_without_any_tokens() -> None:
    config = load_config(ROOT / "services.yaml", env={})
    assert {"github-api", "github-mcp", "context7", "playwright", "magic"} <= set(config.services)
    assert "Authorization" not in config.services["github-api"].headers


def test_schema_is_generated_from_the_models_and_validates_the_shipped_file() -> None:
    schema = config_json_schema()
    shipped = json.loads((ROOT / "core" / "services.schema.json").read_text())
    assert shipped == schema, "core/services.schema.json is stale: run `lookout schema > core/services.schema.json`"
    jsonschema.validate(yaml.safe_load((ROOT / "services.yaml").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"services": {"a": {"kind": "http", "url": "http://127.0.0.1:9", "retyr": 1}}}, schema)


# -- what is a secret: position and variable name, not length (issue 9, item 4) --------------------------

SHOWN = {"WORKDIR": "/srv/lookout-workdir", "MCP_HOST": "127.0.0.1"}
HIDDEN = {
    "PLAIN_SECRET": "plain-secret-0451",  # a harmless name, but used in credential positions
    "ARG_SECRET": "arg-secret-7731",  # a harmless name, given after --token
    "GITHUB_TOKEN": "ghp_name_rule_9988",  # secret by its name, wherever it lands
}
POSITIONS_YAML = """
services:
  api:
    kind: http
    url: "https://deploy:pw-literal-42@${MCP_HOST}/v1/health?api_key=${PLAIN_SECRET}&page=2"
    headers:
      Authorization: "Bearer ${PLAIN_SECRET}"
      Cookie: "sid=cookie-literal-55; theme=dark"
      X-Api-Key: literal-header-key-66
      Accept: application/json
      X-Workdir: "${WORKDIR}"
  tool:
    kind: mcp
    command: "${WORKDIR}/bin/server"
    args: ["--root", "${WORKDIR}", "--host", "${MCP_HOST}", "--token", "${ARG_SECRET}", "--api-key=inline-literal-77"]
    env: {LOG_LEVEL: debug, UPSTREAM: "${GITHUB_TOKEN}"}
  notes:
    kind: http
    url: "https://${MCP_HOST}/"
    description: "owned by ${GITHUB_TOKEN} in ${WORKDIR}"
"""
LITERAL_SECRETS = ["pw-literal-42", "cookie-literal-55", "literal-header-key-66", "inline-literal-77"]


def test_secrets_are_judged_by_position_and_variable_name_not_by_length() -> None:
    config = parse_config(POSITIONS_YAML, env={**SHOWN, **HIDDEN})
    redact = config.redact
    for value in [*HIDDEN.values(), *LITERAL_SECRETS]:
        assert redact(f"error near {value}!") == "error near ***!", value
    for value in SHOWN.values():  # paths and hosts are what a report is about
        assert redact(f"error near {value}!") == f"error near {value}!"
    assert redact("Bearer") == "Bearer" and redact("debug mode") == "debug mode"
    assert redact("GET https://u:p@127.0.0.1/x?page=2&q=abc#top") == ("GET https://***@127.0.0.1/x?page=***&q=***#top")
    tool, api = config.services["tool"], config.services["api"]
    assert config.redactor.args(tool.args) == [
        "--root", "/srv/lookout-workdir", "--host", "127.0.0.1", "--token", "***", "--api-key=***",
    ]  # fmt: skip
    assert config.redactor.headers(api.headers) == {
        "Authorization": "Bearer ***",
        "Cookie": "***",
        "X-Api-Key": "***",
        "Accept": "application/json",
        "X-Workdir": "/srv/lookout-workdir",
    }
    assert config.redactor.env(tool.env) == {"LOG_LEVEL": "***", "UPSTREAM": "***"}


async def test_config_summary_and_target_show_paths_and_hosts_never_secrets() -> None:
    config = parse_config(POSITIONS_YAML, env={**SHOWN, **HIDDEN})
    async with idle_engine(config) as engine:
        snapshot = engine.snapshot()
    api, tool, notes = (snapshot.get(name) for name in ("api", "tool", "notes"))
    assert api.target == "https://***@127.0.0.1/v1/health?api_key=***&page=***"
    assert tool.target == (
        "/srv/lookout-workdir/bin/server --root /srv/lookout-workdir --host 127.0.0.1 --token *** --api-key=***"
    )
    assert notes.target == "https://127.0.0.1/"
    assert tool.config_summary["args"][:4] == ["--root", "/srv/lookout-workdir", "--host", "127.0.0.1"]
    assert api.config_summary["headers"]["X-Workdir"] == "/srv/lookout-workdir"
    everything = repr([s.config_summary for s in snapshot.services]) + repr([s.target for s in snapshot.services])
    for value in [*HIDDEN.values(), *LITERAL_SECRETS]:
        assert value not in everything


LEAKY_SERVER = """
import os, sys
token = sys.argv[sys.argv.index("--token") + 1]
print(f"cannot serve {os.getcwd()} with token {token} for {os.environ['UPSTREAM']}", file=sys.stderr)
sys.exit(1)
"""


@pytest.mark.slow
def test_once_reports_show_paths_and_hosts_but_never_secrets(tmp_path: Path, http_api, unique_key) -> None:
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    (workdir / "leaky.py").write_text(LEAKY_SERVER)
    port = http_api.url.rsplit(":", 1)[1]
    config = tmp_path / "services.yaml"
    config.write_text(
        "defaults: {timeout: 5s, startup_timeout: 20s, retry: {attempts: 1}}\n"
        "services:\n"
        "  api:\n"
        "    kind: http\n"
        f"    url: 'http://${{MCP_HOST}}:{port}/status/{unique_key}/503?api_key=${{PLAIN_SECRET}}'\n"
        "    headers: {Authorization: 'Bearer ${PLAIN_SECRET}', X-Workdir: '${WORKDIR}'}\n"
        "  tool:\n"
        "    kind: mcp\n"
        f"    command: {sys.executable}\n"
        "    args: ['${WORKDIR}/leaky.py', --token, '${ARG_SECRET}']\n"
        "    cwd: '${WORKDIR}'\n"
        "    env: {UPSTREAM: '${GITHUB_TOKEN}'}\n"
    )
    env = {**os.environ, **HIDDEN, "WORKDIR": str(workdir), "MCP_HOST": "127.0.0.1"}
    outputs = {}
    for fmt in ("table", "json"):
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--once", "-v", "--format", fmt, "-c", str(config)],
            capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        outputs[fmt] = done.stdout + done.stderr
    report = json.loads(outputs["json"][: outputs["json"].rindex("}") + 1])
    services = {service["name"]: service for service in report["services"]}
    assert services["api"]["target"] == f"http://127.0.0.1:{port}/status/{unique_key}/503?api_key=***"
    assert services["tool"]["target"] == f"{sys.executable} {workdir}/leaky.py --token ***"
    assert f"cannot serve {workdir} with token *** for ***" in services["tool"]["reason"]
    assert f"cannot serve {workdir} with token ***" in outputs["table"]
    for text in outputs.values():
        for secret in HIDDEN.values():
            assert secret not in text


# -- valid YAML still reads as PyYAML reads it; warnings; deep but valid dependency chains ----------------


def test_the_iterative_reader_agrees_with_safe_load_on_valid_files() -> None:
    merge_keys = (
        "base: &base {interval: 5s, retry: {attempts: 2}, tags: [a]}\n"
        "more: &more {timeout: 2s, description: more}\n"
        "services:\n"
        "  a: {<<: *base, kind: http, url: 'http://127.0.0.1:9', tags: [own]}\n"
        "  b:\n    <<: [*more, *base]\n    kind: http\n    url: http://127.0.0.1:8\n"
        "  c: {kind: http, url: 'http://127.0.0.1:7', n: [1, 1.5, true, ~, 0x1F, '007', 2024-01-02, !!str 5, -.inf]}\n"
    )
    for text in (merge_keys, (ROOT / "services.yaml").read_text()):
        data, _, problems = load_with_lines(text)
        assert data == yaml.safe_load(text) and problems == []
    # Where merged mappings disagree, the first in `<<: [...]` wins and keys written in place win over all
    # (the YAML merge-key rule; PyYAML's own result there depends on key order).
    data, _, _ = load_with_lines("x: &x {t: x, u: x}\ny: &y {t: y, v: y}\nz: {<<: [*x, *y], u: z}\n")
    assert data["z"] == {"t": "x", "u": "z", "v": "y"}


def test_check_warns_about_sub_second_intervals_and_still_passes(tmp_path: Path, capsys) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(
        "defaults:\n  interval: 500ms\n"
        "services:\n"
        "  a: {kind: http, url: 'http://127.0.0.1:9/', interval: 200ms}\n"
        "  b: {kind: http, url: 'http://127.0.0.1:9/'}\n"
        "  c: {kind: http, url: 'http://127.0.0.1:9/', interval: 5s}\n"
    )
    assert main(["--check", "-c", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: 3 services, config is valid\n"
    assert err.splitlines() == [
        f"{path}:2: defaults.interval: warning: interval 500ms is below 1s: "
        "every service without its own is probed more than once a second",
        f"{path}:4: services.a.interval: warning: interval 200ms is below 1s: "
        "this service is probed more than once a second",
    ]


def test_a_3000_long_dependency_chain_loads() -> None:
    count = 3000
    text = "services:\n" + "".join(
        f"  s{i}: {{kind: http, url: 'http://127.0.0.1:9/', depends_on: [s{i + 1}]}}\n" for i in range(count - 1)
    )
    text += f"  s{count - 1}: {{kind: http, url: 'http://127.0.0.1:9/'}}\n"
    config = parse_config(text, env={})
    assert len(config.services) == count and config.services["s0"].depends_on == ["s1"]


def test_load_config_reads_only_regular_files_of_bounded_size(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as caught:
        load_config(fifo)  # opening a FIFO for reading would block until a writer came
    assert str(caught.value) == f"{fifo}: is a FIFO (named pipe), not a regular file: a config must be a file"
    big = tmp_path / "big.yaml"
    big.write_text("services: {}\n" + "#" * 2000 + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(big, max_bytes=1024)
    assert str(caught.value) == f"{big}: is larger than 1 KiB, the limit for a config file"


def test_a_bom_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_bytes(b"\xef\xbb\xbfservices:\n  a: {kind: http, url: 'http://127.0.0.1:9/'}\n")
    assert list(load_config(path, env={}).services) == ["a"]


def test_config_errors_never_quote_a_secret() -> None:
    text = (
        "services:\n"
        "  a: {kind: http, url: 'ftp://deploy:pw-literal-42@127.0.0.1/?key=${PLAIN_SECRET}'}\n"
        "  b:\n    kind: http\n    url: 'http://127.0.0.1:9/'\n    method: '${GITHUB_TOKEN}'\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="s.yaml", env=HIDDEN)
    assert str(caught.value).splitlines() == [
        "s.yaml: 2 problems",
        "  s.yaml:2: services.a.url: 'ftp://***@127.0.0.1/?key=***' is not an http:// or https:// URL",
        "  s.yaml:6: services.b.method: '***' is not an HTTP method: use one of GET, HEAD, POST, PUT, PATCH, DELETE, "
        "OPTIONS",
    ]
