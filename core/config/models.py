"""The shape of services.yaml, as pydantic models.

These models are the single source of truth: the loader validates with them and
`lookout schema` generates the JSON Schema editors use from them. Which model a
service validates with is its kind's (core.kinds); `ServiceConfig` names the
built-in ones for type checking. Every model
forbids unknown keys, so a typo is an error rather than a silently ignored line.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from core.durations import format_duration, parse_duration
from core.redact import Redactor
from core.sizes import parse_size

DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?(ms|s|m|h|d))+\s*$|^\s*\d+(\.\d+)?\s*$"},
    ],
    "description": "a duration: 500ms, 10s, 2m, 1h or a number of seconds",
}

Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_SCHEMA)]
PositiveDuration = Annotated[Duration, Field(gt=0)]

MIN_INTERVAL = 0.1
"""Below this a probe loop is a load generator (`interval: 1ms` sent 1,363 requests in 5 s), not a monitor."""
WARN_INTERVAL = 1.0
"""`--check` warns below this: allowed, but rarely what a person means."""
MAX_TIMEOUT = 3600.0
"""A timeout longer than an hour is no timeout (`timeout: 1e308` never fired)."""


def _shown_duration(seconds: float) -> str:
    return format_duration(seconds) if seconds < 1e9 else f"{seconds:g}s"


def _interval_floor(seconds: float) -> float:
    if seconds < MIN_INTERVAL:
        raise ValueError(
            f"must be at least {format_duration(MIN_INTERVAL)} (got {_shown_duration(seconds)}): "
            "a shorter interval floods the service"
        )
    return seconds


def _timeout(value: object) -> float:
    return parse_duration(value, maximum=MAX_TIMEOUT)


Interval = Annotated[PositiveDuration, AfterValidator(_interval_floor)]
Timeout = Annotated[float, BeforeValidator(_timeout), WithJsonSchema(DURATION_SCHEMA), Field(gt=0)]

_HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def _header_name(name: str) -> str:
    """RFC 9110 token: what httpx would otherwise refuse at probe time, with a traceback."""
    if not _HTTP_TOKEN.fullmatch(name):
        if not name:
            raise ValueError("a header name must not be empty")
        bad = next(ch for ch in name if not _HTTP_TOKEN.fullmatch(ch))
        shown = name if len(name) <= 40 else name[:39] + "…"
        raise ValueError(f"{shown!r} is not a valid header name: {bad!r} is not allowed (use letters, digits and -)")
    return name


def _header_value(value: str) -> str:
    """Visible ASCII, space and tab. The value itself is never quoted back: it may be a token."""
    if _HEADER_VALUE.fullmatch(value):
        return value
    bad = next(ch for ch in value if not _HEADER_VALUE.fullmatch(ch))
    if bad in "\r\n":
        raise ValueError("a header value must be one line: it contains a line break (CR or LF)")
    if ord(bad) > 0x7E and ord(bad) != 0x7F:
        raise ValueError(
            f"contains the non-ASCII character {bad!r} (U+{ord(bad):04X}); "
            "HTTP header values must be ASCII (visible characters, space and tab)"
        )
    raise ValueError(f"contains the control character {bad!r}; HTTP header values must be visible ASCII")


def _no_nul(text: str) -> str:
    """A NUL cannot cross exec(): the process would fail to start with an unreadable error."""
    if "\x00" in text:
        raise ValueError("contains a NUL character (\\x00), which a process argument or environment cannot hold")
    return text


def _env_name(name: str) -> str:
    if not name:
        raise ValueError("an environment variable name must not be empty")
    if "=" in name:
        raise ValueError(f"{name[:40]!r} is not a valid environment variable name: it contains '='")
    return _no_nul(name)


HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, AfterValidator(_header_value)]
Headers = dict[HeaderName, HeaderValue]
ProcessText = Annotated[str, AfterValidator(_no_nul)]
EnvName = Annotated[str, AfterValidator(_env_name)]

SIZE_SCHEMA = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([kKmMgG]i?[bB]|[bB])?\s*$"},
    ],
    "description": "a size: a number of bytes, or 512KiB, 1MiB, 10MB",
}
ByteSize = Annotated[int, BeforeValidator(parse_size), WithJsonSchema(SIZE_SCHEMA)]

DEFAULT_MAX_BODY = 1024 * 1024
"""HTTP bodies are read up to this many bytes (decompressed); a larger body is cut, not buffered."""
DEFAULT_STARTUP_TIMEOUT = 30.0
"""Spawn + handshake of a new MCP session, like the MCP clients users know."""
DEFAULT_MAX_BLOCK = 3600.0
"""The longest a rate-limit gate holds requests, whatever the server asks for."""


def _fraction(value: object) -> float:
    """ "10%" or 0.1 -> 0.1."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage like 10%") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ValueError(f"{value!r} is not a percentage like 10% or a fraction like 0.1")
    if not 0 <= number <= 1:
        raise ValueError(f"{value!r} is out of range: use 0%..100% (or 0..1)")
    return number


Fraction = Annotated[
    float,
    BeforeValidator(_fraction),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?%\s*$"},
            ],
            "description": "a percentage like 10% or a fraction like 0.1",
        }
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class RetryPolicy(Strict):
    """Attempts within one probe, with exponential backoff and jitter between them."""

    attempts: int = Field(3, ge=1, le=20, description="attempts per probe; 1 = no retries")
    initial: Duration = Field(0.5, description="first wait")
    max: Duration = Field(8.0, description="cap on any wait")
    multiplier: float = Field(2.0, ge=1, le=10, description="each wait is this many times the one before")
    jitter: Duration = Field(0.5, description="plus a random 0..jitter")


class BreakerPolicy(Strict):
    """Circuit breaker: after fail_max failed probes in a row, stop contacting the service."""

    fail_max: int = Field(5, ge=1, le=1000, description="consecutive failed probes that open the breaker")
    reset_timeout: PositiveDuration = Field(60.0, description="how long it stays open before one trial")
    success_threshold: int = Field(1, ge=1, le=100, description="successful trials needed to close it")


class RateLimitSettings(Strict):
    scheme: Literal["auto", "github", "ietf", "openai", "none"] = Field(
        "auto", description="which rate-limit headers to read; auto reads every known family"
    )
    warn_below: Fraction = Field(0.10, description="degraded when a resource has less than this left")
    max_block: PositiveDuration = Field(
        DEFAULT_MAX_BLOCK,
        description="the longest requests are held after a 429 or an exhausted quota, whatever the server asks",
    )


class HttpExpect(Strict):
    status: list[Annotated[int, Field(ge=100, le=599)]] = Field(
        default_factory=lambda: [200], min_length=1, description="acceptable status codes"
    )
    max_latency: Duration | None = Field(None, description="slower than this = degraded")
    body: dict[str, Any] | None = Field(None, description="the JSON body must contain this (subset match)")

    @field_validator("status", mode="before")
    @classmethod
    def _one_status(cls, value: object) -> object:
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class McpExpect(Strict):
    tools: list[str] = Field(default_factory=list, description="tools that must be listed, else degraded")
    min_tools: int | None = Field(None, ge=0, description="fewer tools than this = degraded")
    max_latency: Duration | None = Field(None, description="a slower probe = degraded")
    max_context_tokens: int | None = Field(
        None, ge=1, description="degraded when the tool list costs an agent more context than this"
    )


class McpCall(Strict):
    """An optional deep check: call one tool each probe."""

    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    expect_text: str | None = Field(None, description="a substring the result text must contain")


class ServiceBase(Strict):
    """What every kind's service config has. Each kind's model adds `kind: Literal["<name>"]` (the
    discriminator) and its own fields, and registers in core.kinds."""

    if TYPE_CHECKING:
        kind: str  # declared by each kind's model as a Literal; here only so code can read it on any service

    name: SkipJsonSchema[str] = Field("", exclude=True)
    description: str = ""
    interval: Interval = Field(30.0, description="time between probes (+/-10% jitter); at least 100ms")
    timeout: Timeout = Field(10.0, description="one attempt may take this long; at most 1h")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy)
    tags: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list, description="names of services this one needs")


def _token_command(value: object) -> object:
    """`token_command: gh auth token` is split like a shell would split it, but no shell ever runs it."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split the command: {exc}") from None
    return value


class TokenSettings(Strict):
    """Where a remote service's bearer token comes from, and when it counts as about to expire."""

    token_command: Annotated[list[ProcessText], BeforeValidator(_token_command)] | None = Field(
        None,
        min_length=1,
        description="a command that prints a bearer token (e.g. `gh auth token`); run without a shell, "
        "its output is a secret sent as `Authorization: Bearer`",
    )
    token_cache: Duration = Field(600.0, description="how long a token_command's token is reused")
    token_warn: Duration = Field(
        7 * 86400.0, description="degraded when the token (GitHub's expiry header, a JWT's exp) expires sooner"
    )

    def _check_token_source(self, headers: dict[str, str]) -> None:
        if self.token_command and any(name.lower() == "authorization" for name in headers):
            raise ValueError("`token_command` sends its own Authorization header: remove the one in `headers`")


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        shown = Redactor()(url)  # userinfo and query values are credentials, even in an error
        raise ValueError(f"{shown[:80]!r} is not an http:// or https:// URL")
    return url


class HttpService(TokenSettings, ServiceBase):
    """A plain HTTP API."""

    kind: Literal["http"] = "http"
    url: str
    method: str = "GET"
    headers: Headers = Field(default_factory=dict)
    body: str | None = Field(None, description="request body to send (e.g. for POST health checks)")
    expect: HttpExpect = Field(default_factory=HttpExpect)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    max_body: ByteSize = Field(
        DEFAULT_MAX_BODY, ge=1, description="read at most this much of a response body (decompressed)"
    )
    fresh_connection: bool = Field(
        False,
        description="open a new connection for every request, as blackbox_exporter does "
        "(default: reuse a kept-alive one), so a broken TLS handshake or listener shows",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value.upper() not in HTTP_METHODS:
            raise ValueError(f"{value!r} is not an HTTP method: use one of {', '.join(HTTP_METHODS)}")
        return value.upper()

    @model_validator(mode="after")
    def _token_source(self) -> HttpService:
        self._check_token_source(self.headers)
        return self


def args_as_strings(value: object) -> object:
    """`args: [--port, 8080]` is natural YAML; the number is meant as text (a service's and a client entry's)."""
    if isinstance(value, list):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
    return value


class McpService(TokenSettings, ServiceBase):
    """An MCP server: started over stdio, or reached over streamable HTTP or SSE."""

    kind: Literal["mcp"] = "mcp"
    transport: Literal["stdio", "http", "sse"] = Field(
        "stdio", description="stdio (default with `command`), http = streamable HTTP (default with `url`), sse"
    )
    command: ProcessText | None = Field(None, description="stdio: the program to start (npx, uvx, docker, ...)")
    args: list[ProcessText] = Field(default_factory=list)
    env: dict[EnvName, ProcessText] = Field(default_factory=dict, description="stdio: extra environment for the server")
    cwd: ProcessText | None = Field(None, description="stdio: the directory the server starts in; must exist")
    url: str | None = Field(None, description="http/sse: the server's URL")
    headers: Headers = Field(default_factory=dict)
    session: Literal["persistent", "fresh"] = Field(
        "persistent", description="persistent: keep one session and check it; fresh: connect every probe"
    )
    startup_timeout: Timeout = Field(
        DEFAULT_STARTUP_TIMEOUT,
        description="a new session (process start or connect, and handshake) may take this long; "
        "`timeout` bounds probes of a live session",
    )
    expect: McpExpect = Field(default_factory=McpExpect)
    call: McpCall | None = None
    _untyped_url: bool = PrivateAttr(False)

    @model_validator(mode="wrap")
    @classmethod
    def _infer_transport(cls, data: Any, handler: Any) -> Any:
        # `url:` alone means a remote server over streamable HTTP, falling back to SSE as clients do;
        # `command:` means stdio.
        untyped = isinstance(data, dict) and "transport" not in data and "url" in data and "command" not in data
        model = handler({**data, "transport": "http"} if untyped else data)
        if untyped:  # False is the attribute's default: a private attribute is set through pydantic's Python code
            model._untyped_url = True
        return model

    @property
    def sse_fallback(self) -> bool:
        """True when no transport was written with the `url`: streamable HTTP is tried, then SSE."""
        return self._untyped_url

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_http_url(value) if value is not None else None

    @field_validator("args", mode="before")
    @classmethod
    def _args_as_strings(cls, value: object) -> object:
        return args_as_strings(value)

    @model_validator(mode="after")
    def _transport_fields(self) -> McpService:
        if self.transport == "stdio":
            if not self.command:
                raise ValueError("a stdio MCP server needs `command` (or set transport: http with a url)")
            if self.url:
                raise ValueError("`url` is for transport http or sse; a stdio server has `command`")
        else:
            if not self.url:
                raise ValueError(f"transport {self.transport} needs `url`")
            if self.command:
                raise ValueError(f"`command` is for transport stdio; transport {self.transport} has `url`")
        if self.token_command and self.transport == "stdio":
            raise ValueError("`token_command` is for remote servers (http, sse); pass a stdio server's token in `env`")
        self._check_token_source(self.headers)
        return self


ServiceConfig = ServiceBase


class HistorySettings(Strict):
    """How long the history file keeps what it recorded (see `lookout history`)."""

    raw_retention: Duration = Field(
        7 * 86400.0, ge=7200, description="how long every probe result is kept (at least 2h: the 1h window reads them)"
    )
    rollup_retention: Duration = Field(
        400 * 86400.0, ge=86400, description="how long hourly roll-ups (count, failures, latency percentiles) are kept"
    )


class Defaults(Strict):
    interval: Interval = 30.0
    timeout: Timeout = 10.0
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy)
    startup_timeout: Timeout = DEFAULT_STARTUP_TIMEOUT
    concurrency: int = Field(256, ge=1, le=10000, description="probes in flight at once, fleet-wide")
    max_starting: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="MCP servers starting at once (spawned, handshake not done); default 2 per CPU core",
    )
    history: HistorySettings = Field(default_factory=HistorySettings)


class McpClientEntry(BaseModel):
    """One entry of the `mcpServers` block MCP clients use (Claude, Cursor, VS Code...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    type: Literal["stdio", "http", "streamable-http", "streamableHttp", "sse"] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Client-side settings Lookout has no use for; accepted so a pasted block loads as is.
    disabled: bool = False
    autoApprove: SkipJsonSchema[list[str] | None] = None
    alwaysAllow: SkipJsonSchema[list[str] | None] = None
    timeout: SkipJsonSchema[float | None] = None
    description: str = ""

    @field_validator("args", mode="before")
    @classmethod
    def _args_as_strings(cls, value: object) -> object:
        return args_as_strings(value)

    def as_service(self) -> dict[str, Any]:
        transport = {"streamable-http": "http", "streamableHttp": "http"}.get(self.type or "", self.type)
        service: dict[str, Any] = {"kind": "mcp"}
        if transport or self.command:
            service["transport"] = transport or "stdio"
        # An untyped `url` stays untyped: the service tries streamable HTTP, then SSE, as clients do.
        if self.description:
            service["description"] = self.description
        for key in ("command", "cwd", "url"):
            if getattr(self, key) is not None:
                service[key] = getattr(self, key)
        for key in ("args", "env", "headers"):
            if getattr(self, key):
                service[key] = getattr(self, key)
        return service


class _ServicesFileBase(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Lookout services.yaml")


def services_file_model(kinds: tuple[type[ServiceBase], ...]) -> type[BaseModel]:
    """services.yaml as a whole, for the given kinds' models: the model the JSON Schema is generated from.

    Built per call, not declared once, so a kind registered at run time is in the schema too.
    """
    from core.alerts.config import AlertsSettings  # imports this module: only once both exist

    # A Union of a tuple known only at run time: no static type checker can follow it.
    one_service = Annotated[Union[kinds], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007
    return create_model(
        "ServicesFile",
        __base__=_ServicesFileBase,
        __doc__="services.yaml as a whole: the model the JSON Schema is generated from.",
        defaults=(Defaults, Field(default_factory=Defaults)),
        services=(dict[str, one_service], Field(default_factory=dict)),
        mcpServers=(
            dict[str, McpClientEntry],
            Field(default_factory=dict, description="an MCP client's server block, pasted as is"),
        ),
        alerts=(AlertsSettings | None, Field(None, description="notification channels, alert rules, maintenance")),
    )
