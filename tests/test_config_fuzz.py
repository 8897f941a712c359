# ruff: noqa: E501  (the corpus is a table: one case, with its exact message, per entry reads best unwrapped)
"""A corpus of malformed configs: each one gives exit 3 and a located message, never a traceback or a hang.

The bulk runs in-process through `tui.cli.main` (`--check` and `--once` both refuse before
any probe). The cases that once exhausted memory, the stack or the clock (alias bombs, deep
nesting, /dev/zero, a FIFO, a huge file) run as subprocesses with a timeout and a 1 GiB
address-space limit, so a regression fails the test instead of taking the machine down.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main

pytestmark = pytest.mark.slow  # a fuzz corpus, each case in a subprocess

ROOT = Path(__file__).resolve().parent.parent
UNSET = "LOOKOUT_FUZZ_NEVER_SET"


def http(extra: str = "", *, url: str = "http://127.0.0.1:9/") -> str:
    """One HTTP service plus `extra` (already indented under it)."""
    return f"services:\n  a:\n    kind: http\n    url: '{url}'\n{extra}"


def stdio(extra: str = "") -> str:
    return f"services:\n  a:\n    kind: mcp\n    command: python\n{extra}"


def bomb(levels: int = 9, fan_out: int = 9) -> str:
    lines = ["a: &a [" + ", ".join(["lol"] * fan_out) + "]"]
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * fan_out) + "]")
    return "\n".join(lines) + "\nservices: {x: *" + chr(ord("a") + levels - 1) + "}\n"


def merge_bomb(levels: int = 12) -> str:
    lines = ["x0: &x0 {k0: 1, k1: 2}"]
    for level in range(1, levels):
        lines.append(f"x{level}: &x{level} {{a: *x{level - 1}, b: *x{level - 1}, <<: *x{level - 1}}}")
    return "\n".join(lines) + f"\nservices:\n  s:\n    <<: *x{levels - 1}\n    kind: http\n"


CHAIN = 3000
chain = "services:\n" + "".join(
    f"  s{i}: {{kind: http, url: 'http://127.0.0.1:9/', depends_on: [s{i + 1}]}}\n" for i in range(CHAIN)
)

# (id, file content, exact stderr or None). `{f}` stands for the file's path. None: the message
# must still start with the path and a colon, and exit 3 without a traceback.
CORPUS: list[tuple[str, str | bytes, str | None]] = [
    # -- bytes that are not YAML text ---------------------------------------------------------
    (
        "nul in value",
        "services:\n  a: \x00\n",
        "{f}:2: invalid YAML: a NUL byte at column 6; a services.yaml must be plain text",
    ),
    (
        "nul in key",
        "services:\n  a\x00b: {}\n",
        "{f}:2: invalid YAML: a NUL byte at column 4; a services.yaml must be plain text",
    ),
    (
        "bell character",
        "services:\n\n  a: \x07\n",
        "{f}:3: invalid YAML: the control character '\\x07' at column 6; a services.yaml must be plain text",
    ),
    ("raw escape sequence", "services:\n  a: \x1b[2J\n", None),
    ("invalid utf-8", b"services:\n  a: \xff\xfe\n", "{f}:2: not UTF-8 text: byte 0xff at column 6"),
    ("utf-16 file", "services:\n  a: {kind: http}\n".encode("utf-16"), "{f}:1: not UTF-8 text: byte 0xff at column 1"),
    ("latin-1 file", "services:\n  café: {kind: http}\n".encode("latin-1"), None),
    ("binary junk", bytes(range(256)) * 4, None),
    ("bom then a scalar", "\ufeffservices: 5\n", "{f}:1: services: must be a mapping of service name -> settings"),
    ("bom in the middle", "services:\n  a: {kind: http}\n\ufeffb: 1\n", None),
    # -- YAML syntax ---------------------------------------------------------------------------
    (
        "unclosed flow sequence",
        "services:\n  api: [unclosed\n",
        "{f}:2: invalid YAML: a flow sequence opened here is not closed: did not find expected ',' or ']' (line 3)",
    ),
    (
        "unclosed flow mapping",
        "services:\n  a: {kind: http\n\n\n",
        "{f}:2: invalid YAML: a flow mapping opened here is not closed: did not find expected ',' or '}' (line 5)",
    ),
    (
        "unclosed single quote",
        "services:\n  a: 'open\n  b: 1\n",
        "{f}:2: invalid YAML: a quoted scalar opened here is not closed: found unexpected end of stream (line 4)",
    ),
    ("unclosed double quote", 'services:\n  a: "open\n', None),
    ("tab indentation", "services:\n\ta: {}\n", None),
    ("bad indentation", "services:\n  a:\n    kind: http\n   url: x\n", None),
    ("mapping value in scalar", "services: a: b\n", None),
    ("stray closing bracket", "services: ]\n", None),
    ("bad escape", 'services: {a: "\\q"}\n', None),
    ("anchor without node", "services: &\n", None),
    (
        "undefined alias",
        "services: *nope\n",
        "{f}:1: services: invalid YAML: the alias *nope has no anchor &nope before it",
    ),
    (
        "self-referencing sequence",
        "services:\n  a: &loop [*loop]\n",
        "{f}:2: services.a[0]: invalid YAML: the alias *loop is inside &loop itself: a structure cannot contain itself",
    ),
    (
        "self-referencing mapping",
        "services: &s {a: *s}\n",
        "{f}:1: services.a: invalid YAML: the alias *s is inside &s itself: a structure cannot contain itself",
    ),
    ("self-merging mapping", "services:\n  a: &m {<<: *m}\n", None),
    (
        "small alias bomb",
        bomb(levels=6, fan_out=10),
        "{f}:5: e[7]: too many alias expansions (over 100,000 values reached through aliases); anchors that nest aliases multiply",
    ),
    (
        "two documents",
        "services: {}\n---\nservices: {}\n",
        "{f}:2: a second YAML document ('---') starts here; a services.yaml is one document",
    ),
    (
        "python name tag",
        "services:\n  a: !!python/name:os.system\n",
        "{f}:2: services.a: the tag !!python/name:os.system is not supported; use plain YAML values",
    ),
    (
        "python object apply",
        "services:\n  a: !!python/object/apply:os.system [echo hi]\n",
        "{f}:2: services.a: the tag !!python/object/apply:os.system is not supported; use plain YAML values",
    ),
    ("python object", "services: !!python/object:builtins.dict {}\n", None),
    (
        "custom local tag",
        "services:\n  a: !secret x\n",
        "{f}:2: services.a: the tag '!secret' is not supported; use plain YAML values",
    ),
    ("set tag", "services: !!set {a, b}\n", "{f}:1: services: the tag !!set is not supported; use plain YAML values"),
    ("omap tag", "services: !!omap [a: 1]\n", None),
    ("bad binary", "services:\n  a: !!binary '%%%'\n", None),
    ("bad int tag", "services:\n  a: !!int abc\n", None),
    ("bad timestamp tag", "services:\n  a: !!timestamp yesterday\n", None),
    (
        "5000-digit interval",
        http("    interval: " + "9" * 5000 + "\n"),
        "{f}:5: services.a.interval: a number with 5000 digits is too long",
    ),
    (
        "5000-digit attempts",
        http("    retry: {attempts: " + "7" * 5000 + "}\n"),
        "{f}:5: services.a.retry.attempts: a number with 5000 digits is too long",
    ),
    (
        "merge of a scalar",
        "services:\n  a: {<<: 5, kind: http, url: 'http://127.0.0.1:9/'}\n",
        "{f}:2: services.a: `<<` merges a mapping or a list of mappings",
    ),
    ("complex key", "services:\n  ? [a, b]\n  : {kind: http}\n", "{f}:2: services: a key must be a plain value"),
    ("mapping as key", "services:\n  ? {a: 1}\n  : 2\n", None),
    (
        "duplicate service",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9/'}\n  a: {kind: http, url: 'http://127.0.0.1:9/'}\n",
        "{f}:3: services.a: duplicate service name 'a' (first defined on line 2)",
    ),
    (
        "duplicate field",
        http("    url: 'http://127.0.0.1:8/'\n"),
        "{f}:5: services.a.url: duplicate key 'url' (first defined on line 4)",
    ),
    (
        "deep but bounded nesting",
        "services:\n  a:\n" + "".join("  " * (i + 2) + f"k{i}:\n" for i in range(120)),
        "{f}:101: nested deeper than 100 levels",
    ),
    # -- the top level -------------------------------------------------------------------------
    ("empty file", "", "{f}: the file is empty: expected a `services:` mapping"),
    ("only comments", "# nothing here\n# at all\n", "{f}: the file is empty: expected a `services:` mapping"),
    ("only blank lines", "\n\n   \n", "{f}: the file is empty: expected a `services:` mapping"),
    ("only a document marker", "---\n", "{f}: the file is empty: expected a `services:` mapping"),
    ("document end marker", "...\n", None),
    ("top-level list", "- a\n- b\n", "{f}:1: expected a mapping with `services:` at the top level"),
    ("top-level string", "hello\n", "{f}:1: expected a mapping with `services:` at the top level"),
    ("top-level number", "42\n", "{f}:1: expected a mapping with `services:` at the top level"),
    ("top-level null", "~\n", "{f}: the file is empty: expected a `services:` mapping"),
    ("services is a number", "services: 5\n", "{f}:1: services: must be a mapping of service name -> settings"),
    ("services is a list", "services: [a, b]\n", "{f}:1: services: must be a mapping of service name -> settings"),
    ("services is null", "services:\n", "{f}:1: services: no services defined"),
    ("services is empty", "services: {}\n", "{f}:1: services: no services defined"),
    ("unknown top-level field", "services: {}\nalarms: {}\n", None),
    (
        "misspelt services",
        "sevrices: {}\n",
        "{f}:1: sevrices: unknown top-level field (did you mean 'services'?); expected one of defaults, services, mcpServers, alerts",
    ),
    ("defaults is a number", "defaults: 5\n" + http()[0:], None),
    # -- service names -------------------------------------------------------------------------
    (
        "service named tilde",
        "services:\n  ~: {kind: http, url: 'http://127.0.0.1:9/'}\n",
        "{f}:2: services.null: a service name must be a non-empty string (got null); quote it if it is meant as text",
    ),
    (
        "service named null",
        "services:\n  null: {kind: http, url: 'http://127.0.0.1:9/'}\n",
        "{f}:2: services.null: a service name must be a non-empty string (got null); quote it if it is meant as text",
    ),
    (
        "service named with a number",
        "services:\n  12: {kind: http, url: 'http://127.0.0.1:9/'}\n",
        "{f}:2: services.12: a service name must be a non-empty string (got 12); quote it if it is meant as text",
    ),
    (
        "service named true",
        "services:\n  yes: {kind: http, url: 'http://127.0.0.1:9/'}\n",
        "{f}:2: services.true: a service name must be a non-empty string (got true); quote it if it is meant as text",
    ),
    ("service named with a float", "services:\n  1.5: {kind: http, url: 'http://127.0.0.1:9/'}\n", None),
    (
        "service named empty",
        "services:\n  '': {kind: http, url: 'http://127.0.0.1:9/'}\n",
        "{f}:2: services.: a service name must be a non-empty string; quote it if it is meant as text",
    ),
    ("service name on two lines", 'services:\n  "a\\nb": {kind: http, url: "http://127.0.0.1:9/"}\n', None),
    (
        "service name carrying a terminal escape",
        'services:\n  "x\\e[2Jy": {kind: http, url: "http://127.0.0.1:9/"}\n',
        '{f}:2: services.x\\x1b[2Jy: a service name must not contain control characters (got "x\\x1b[2Jy")',
    ),
    (
        "service name with a bidi override",
        'services:\n  "evil\\u202Egnp.exe": {kind: http, url: "http://127.0.0.1:9/"}\n',
        None,
    ),
    (
        "service is a list",
        "services:\n  a: [kind, http]\n",
        "{f}:2: services.a: must be a mapping of settings (kind, url or command, ...)",
    ),
    (
        "service is null",
        "services:\n  a:\n",
        "{f}:2: services.a: must be a mapping of settings (kind, url or command, ...)",
    ),
    ("megabyte service name", "services:\n  " + "n" * 1_000_000 + ": 5\n", None),
    ("megabyte unknown field", http("    " + "z" * 1_000_000 + ": 1\n"), None),
    # -- kinds, URLs, methods ------------------------------------------------------------------
    ("kind is a number", "services:\n  a: {kind: 5, url: 'http://127.0.0.1:9/'}\n", None),
    ("kind is a list", "services:\n  a: {kind: [http], url: 'http://127.0.0.1:9/'}\n", None),
    ("no kind", "services:\n  a: {url: 'http://127.0.0.1:9/'}\n", "{f}:2: services.a: kind: required: http or mcp"),
    ("url is a number", "services:\n  a: {kind: http, url: 5}\n", None),
    (
        "ftp url",
        http(url="ftp://127.0.0.1/"),
        "{f}:4: services.a.url: 'ftp://127.0.0.1/' is not an http:// or https:// URL",
    ),
    ("url without host", http(url="http://"), None),
    ("url is not a url", http(url="not a url"), None),
    ("broken ipv6 url", http(url="http://[::1"), None),
    ("url is binary", "services:\n  a: {kind: http, url: !!binary aGk=}\n", None),
    ("url is a date", "services:\n  a: {kind: http, url: 2024-01-01}\n", None),
    ("unknown method", http("    method: FETCH\n"), None),
    ("method is a number", http("    method: 5\n"), None),
    ("body is a mapping", http("    body: {a: 1}\n"), None),
    ("http service with a command", http("    command: npx\n"), None),
    # -- headers -------------------------------------------------------------------------------
    ("headers is a list", http("    headers: [a, b]\n"), None),
    ("header value is a number", http("    headers: {X-A: 5}\n"), None),
    (
        "header name with a space",
        http("    headers: {'X A': v}\n"),
        "{f}:5: services.a.headers.X A: 'X A' is not a valid header name: ' ' is not allowed (use letters, digits and -)",
    ),
    ("header name with a colon", http("    headers: {'X-A:': v}\n"), None),
    (
        "empty header name",
        http("    headers: {'': v}\n"),
        "{f}:5: services.a.headers.: a header name must not be empty",
    ),
    (
        "header value with CRLF",
        http('    headers: {X-A: "v\\r\\nX-Injected: 1"}\n'),
        "{f}:5: services.a.headers.X-A: a header value must be one line: it contains a line break (CR or LF)",
    ),
    (
        "header value with LF",
        http('    headers:\n      Authorization: "Bearer a\\nb"\n'),
        "{f}:6: services.a.headers.Authorization: a header value must be one line: it contains a line break (CR or LF)",
    ),
    (
        "non-ascii header value",
        http("    headers: {X-A: café}\n"),
        "{f}:5: services.a.headers.X-A: contains the non-ASCII character 'é' (U+00E9); HTTP header values must be ASCII (visible characters, space and tab)",
    ),
    (
        "control char header value",
        http('    headers: {X-A: "a\\x01b"}\n'),
        "{f}:5: services.a.headers.X-A: contains the control character '\\x01'; HTTP header values must be visible ASCII",
    ),
    ("binary header value", http("    headers: {X-A: !!binary AA==}\n"), None),
    # -- processes -----------------------------------------------------------------------------
    (
        "nul in command",
        'services:\n  a: {kind: mcp, command: "py\\0thon"}\n',
        "{f}:2: services.a.command: contains a NUL character (\\x00), which a process argument or environment cannot hold",
    ),
    (
        "nul in args",
        stdio('    args: [ok, "x\\0y"]\n'),
        "{f}:5: services.a.args[1]: contains a NUL character (\\x00), which a process argument or environment cannot hold",
    ),
    (
        "nul in env value",
        stdio('    env: {A: "x\\0y"}\n'),
        "{f}:5: services.a.env.A: contains a NUL character (\\x00), which a process argument or environment cannot hold",
    ),
    ("nul in env name", stdio('    env: {"A\\0": x}\n'), None),
    (
        "equals in env name",
        stdio("    env: {'A=B': x}\n"),
        "{f}:5: services.a.env.A=B: 'A=B' is not a valid environment variable name: it contains '='",
    ),
    (
        "empty env name",
        stdio("    env: {'': x}\n"),
        "{f}:5: services.a.env.: an environment variable name must not be empty",
    ),
    ("env is a list", stdio("    env: [A=1]\n"), None),
    ("args is a string", stdio("    args: --port 80\n"), None),
    ("args holds a mapping", stdio("    args: [{a: 1}]\n"), None),
    (
        "cwd does not exist",
        stdio("    cwd: /nonexistent/lookout-fuzz\n"),
        "{f}:5: services.a.cwd: no such directory: /nonexistent/lookout-fuzz",
    ),
    ("cwd is a file", stdio("    cwd: /dev/null\n"), "{f}:5: services.a.cwd: not a directory: /dev/null"),
    ("nul in cwd", stdio('    cwd: "/tmp\\0"\n'), None),
    ("command is a number", "services:\n  a: {kind: mcp, command: 5}\n", None),
    ("stdio without command", "services:\n  a: {kind: mcp, transport: stdio}\n", None),
    ("stdio with a url", stdio("    url: 'http://127.0.0.1:9/'\n"), None),
    ("sse without url", "services:\n  a: {kind: mcp, transport: sse}\n", None),
    ("unknown transport", "services:\n  a: {kind: mcp, transport: websocket, url: 'http://127.0.0.1:9/'}\n", None),
    ("unknown session", stdio("    session: sometimes\n"), None),
    # -- durations, sizes, percentages ---------------------------------------------------------
    (
        "interval 1ms",
        http("    interval: 1ms\n"),
        "{f}:5: services.a.interval: must be at least 100ms (got 1ms): a shorter interval floods the service",
    ),
    ("interval zero", http("    interval: 0\n"), "{f}:5: services.a.interval: must be > 0 (got 0)"),
    ("interval negative", http("    interval: -5s\n"), None),
    ("interval with a bad unit", http("    interval: 10x\n"), None),
    ("interval true", http("    interval: true\n"), None),
    ("interval a list", http("    interval: [1]\n"), None),
    ("interval infinite", http("    interval: .inf\n"), None),
    ("interval nan", http("    interval: .nan\n"), None),
    ("interval overflowing float", http("    interval: 1.0e999\n"), None),
    ("interval of ten years", http("    interval: 3650d\n"), None),
    ("timeout 1e308", http("    timeout: 1e308\n"), "{f}:5: services.a.timeout: must be at most 1h (got '1e308')"),
    ("timeout two hours", http("    timeout: 2h\n"), "{f}:5: services.a.timeout: must be at most 1h (got '2h')"),
    (
        "startup timeout two hours",
        stdio("    startup_timeout: 2h\n"),
        "{f}:5: services.a.startup_timeout: must be at most 1h (got '2h')",
    ),
    (
        "defaults interval 10ms",
        "defaults: {interval: 10ms}\n" + http(),
        "{f}:1: defaults.interval: must be at least 100ms (got 10ms): a shorter interval floods the service",
    ),
    ("defaults timeout zero", "defaults: {timeout: 0}\n" + http(), None),
    ("defaults concurrency zero", "defaults: {concurrency: 0}\n" + http(), None),
    ("defaults max_starting zero", "defaults: {max_starting: 0}\n" + http(), None),
    ("defaults unknown field", "defaults: {intreval: 5s}\n" + http(), None),
    ("attempts zero", http("    retry: {attempts: 0}\n"), "{f}:5: services.a.retry.attempts: must be >= 1 (got 0)"),
    ("attempts a word", http("    retry: {attempts: three}\n"), None),
    ("multiplier below one", http("    retry: {multiplier: 0.5}\n"), None),
    ("retry max a year and a day", http("    retry: {max: 366d}\n"), None),
    ("retry is a list", http("    retry: [1]\n"), None),
    ("fail_max negative", http("    breaker: {fail_max: -1}\n"), None),
    ("reset_timeout zero", http("    breaker: {reset_timeout: 0}\n"), None),
    ("warn_below 150%", http("    rate_limit: {warn_below: 150%}\n"), None),
    ("warn_below not a percentage", http("    rate_limit: {warn_below: abc%}\n"), None),
    ("warn_below nan", http("    rate_limit: {warn_below: .nan}\n"), None),
    ("unknown rate-limit scheme", http("    rate_limit: {scheme: bogus}\n"), None),
    ("max_block zero", http("    rate_limit: {max_block: 0}\n"), None),
    ("max_body in parsecs", http("    max_body: 1 parsec\n"), None),
    ("max_body negative", http("    max_body: -5\n"), None),
    ("max_body zero", http("    max_body: 0\n"), None),
    ("status out of range", http("    expect: {status: [600]}\n"), None),
    ("status a word", http("    expect: {status: ok}\n"), None),
    ("expected body a string", http("    expect: {body: x}\n"), None),
    ("max_latency a word", http("    expect: {max_latency: soon}\n"), None),
    ("tools not a list", stdio("    expect: {tools: x}\n"), None),
    ("min_tools negative", stdio("    expect: {min_tools: -1}\n"), None),
    ("call without tool", stdio("    call: {arguments: {}}\n"), None),
    ("call arguments a list", stdio("    call: {tool: t, arguments: [1]}\n"), None),
    ("merged invalid interval", "base: &b {interval: 1ms}\n" + http("    <<: *b\n"), None),
    # -- dependencies, tags, interpolation -----------------------------------------------------
    ("depends on itself", http("    depends_on: [a]\n"), None),
    ("depends on unknown", http("    depends_on: [b]\n"), None),
    ("depends_on a number", http("    depends_on: 5\n"), None),
    (
        "dependency cycle",
        "services:\n  a: {kind: http, url: 'http://127.0.0.1:9/', depends_on: [b]}\n  b: {kind: http, url: 'http://127.0.0.1:9/', depends_on: [a]}\n",
        "{f}:2: services.a.depends_on: dependency cycle: a -> b -> a",
    ),
    (
        "3000-long chain to nowhere",
        chain,
        f"{{f}}:{CHAIN + 1}: services.s{CHAIN - 1}.depends_on[0]: unknown service 's{CHAIN}' (did you mean 's300'?)",
    ),
    (
        "3000-long cycle",
        chain.replace(f"[s{CHAIN}]", "[s0]"),
        "{f}:2: services.s0.depends_on: dependency cycle through 3000 services: s0 -> s1 -> s2 -> s3 -> s4 -> … -> s2998 -> s2999 -> s0",
    ),
    ("tags a string", http("    tags: api\n"), None),
    ("unterminated variable", http(url="http://127.0.0.1:9/${HOME"), None),
    ("variable with a space", http(url="http://127.0.0.1:9/${NOT A NAME}"), None),
    (
        "unset variable",
        http(url="http://127.0.0.1:9/${" + UNSET + "}"),
        f"{{f}}:4: services.a.url: environment variable {UNSET} is not set (write ${{{UNSET}:-}} to make it optional)",
    ),
    # -- MCP client blocks gone wrong ----------------------------------------------------------
    ("mcpServers a number", "mcpServers: 5\n", None),
    ("mcpServers entry a number", "mcpServers: {a: 5}\n", None),
    ("mcpServers command a number", "mcpServers: {a: {command: 5}}\n", None),
    ("mcpServers unknown type", '{"mcpServers": {"a": {"type": "websocket", "url": "http://127.0.0.1:9/"}}}', None),
    ("mcpServers command and url", '{"mcpServers": {"a": {"command": "x", "url": "http://127.0.0.1:9/"}}}', None),
    ("mcpServers unknown key", '{"mcpServers": {"a": {"command": "x", "comand": "y"}}}', None),
    ("mcpServers env a list", '{"mcpServers": {"a": {"command": "x", "env": ["A=1"]}}}', None),
    ("mcpServers nul in args", '{"mcpServers": {"a": {"command": "x", "args": ["\\u0000"]}}}', None),
    (
        "mcpServers header injection",
        '{"mcpServers": {"a": {"url": "http://127.0.0.1:9/", "headers": {"A": "b\\r\\nC: d"}}}}',
        None,
    ),
    (
        "mcpServers name null",
        '{"mcpServers": {"a": {"command": "x"}}, "services": {"a": {"kind": "http", "url": "http://127.0.0.1:9/"}}}',
        None,
    ),
    ("mcpServers disabled maybe", '{"mcpServers": {"a": {"command": "x", "disabled": "maybe"}}}', None),
    ("mcpServers truncated json", '{"mcpServers": {"a": {"command": "x"', None),
    ("mcpServers all disabled", '{"mcpServers": {"a": {"command": "x", "disabled": true}}}', None),
]


def _expected(template: str, path: Path) -> str:
    return template.replace("{f}", str(path))


@pytest.fixture(autouse=True)
def _no_stray_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNSET, raising=False)


def test_the_corpus_is_large_and_distinct() -> None:
    names = [case[0] for case in CORPUS]
    assert len(names) == len(set(names))
    assert len({case[1] for case in CORPUS}) == len(CORPUS)
    assert len(CORPUS) + len(DANGEROUS) >= 100


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_malformed_config_exits_3_with_a_located_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, expected: str | None
) -> None:
    path = tmp_path / "services.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    for mode in ("--check", "--once"):
        assert main([mode, "-c", str(path)]) == 3, mode
        out, err = capsys.readouterr()
        assert out == "" and "Traceback" not in err
        assert err.startswith(f"{path}:"), err[:300]
        assert len(err) < 20_000, "a message must stay readable whatever the input"
        if expected is not None:
            assert err.rstrip("\n") == _expected(expected, path)


# -- the dangerous ones: a subprocess each, bounded in time and memory ---------------------------

MEMORY_LIMIT = 1024**3
TIME_LIMIT = 60


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "services.fifo"
    os.mkfifo(path)
    return path


# (id, how to make the path, exact stderr with `{f}`)
DANGEROUS = [
    (
        "billion laughs",
        lambda tmp: _write(tmp, "laughs.yaml", bomb()),
        "{f}:6: f[0]: too many alias expansions (over 100,000 values reached through aliases); "
        "anchors that nest aliases multiply",
    ),
    (
        "merge-key bomb",
        lambda tmp: _write(tmp, "merge.yaml", merge_bomb(levels=40)),
        None,
    ),
    (
        "100,000 nested brackets",
        lambda tmp: _write(tmp, "deep.yaml", "services: " + "[" * 100_000 + "]" * 100_000 + "\n"),
        # libyaml stops at its own flow-depth limit (1,000) first; the pure-Python parser reaches ours
        re.compile(r"\{f\}:1: (nested deeper than 100 levels|invalid YAML: exceeded maximum nesting depth .*)"),
    ),
    (
        "3,000 nested block mappings",
        lambda tmp: _write(tmp, "block.yaml", "".join(" " * i + "k:\n" for i in range(3000))),
        "{f}:101: nested deeper than 100 levels",
    ),
    (
        "huge file",
        lambda tmp: _write(tmp, "huge.yaml", "services:\n" + "#" * (6 * 1024 * 1024) + "\n"),
        "{f}: is larger than 5 MiB, the limit for a config file",
    ),
    ("/dev/zero", lambda tmp: Path("/dev/zero"), "{f}: is a device, not a regular file: a config must be a file"),
    ("a FIFO", _fifo, "{f}: is a FIFO (named pipe), not a regular file: a config must be a file"),
    ("a directory", lambda tmp: tmp, "{f}: is a directory, not a services.yaml file"),
]


def test_dangerous_configs_are_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """Each case twice (--check, --once) as its own process, all running at once, each with a deadline."""
    runs = []
    for name, make, expected in DANGEROUS:
        where = tmp_path / name.replace(" ", "-").replace("/", "")
        where.mkdir()
        path = make(where)
        for mode in ("--check", "--once"):
            process = subprocess.Popen(
                [sys.executable, "-m", "tui.cli", mode, "-c", str(path)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=_limit_memory,
            )
            runs.append((name, mode, path, expected, process))
    failures = []
    for name, mode, path, expected, process in runs:
        try:
            _, err = process.communicate(timeout=TIME_LIMIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            failures.append(f"{name} {mode}: still running after {TIME_LIMIT}s")
            continue
        if process.returncode != 3 or "Traceback" in err or not err.startswith(f"{path}:"):
            failures.append(f"{name} {mode}: exit {process.returncode}: {err[-500:]}")
        elif isinstance(expected, re.Pattern):
            if not expected.fullmatch(err.rstrip("\n").replace(str(path), "{f}")):
                failures.append(f"{name} {mode}: {err!r}")
        elif expected is not None and err.rstrip("\n") != _expected(expected, path):
            failures.append(f"{name} {mode}: {err!r}")
    assert not failures, "\n".join(failures)
