"""What a probe found beyond up or down, as typed, frozen records.

A probe used to hand its findings over as a dict of string keys, read by key in
the reports and the TUI: nothing checked that contract, so a renamed key became
a blank cell. These records are that contract. Each kind of service has its own
(`HttpDetails`, `McpDetails`); a new kind brings its own record, which only has
to satisfy `Details`: a `safe(redact)` method returning a copy in which every
string a server supplied is redacted, made inert and clipped (see core.sanitize).
The pipeline calls it once, where a result is built; everything downstream
shows the fields as they are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, Self

from core.sanitize import NAME_LIMIT, TEXT_LIMIT, clean_line, clean_text, clean_tree

Redact = Callable[[str], str]

SCHEMA_NAME_KEYS = frozenset({"name", "title", "version"})
"""Strings under these keys of a tool's input schema are names (one line); other strings are text blocks."""
CHARS_PER_TOKEN = 4
"""The usual rule of thumb for English text and JSON with current tokenizers. It is applied to the text as
a model sees it: JSON with every character as itself (an "é" is one character, not the six of `\\u00e9`
that an ASCII-only encoding would spell), so non-ASCII descriptions are not over-counted."""


class Details(Protocol):
    """Any kind's findings: a frozen record that can make its server-supplied text safe to show."""

    def safe(self, redact: Redact) -> Self:
        """A copy with every server-supplied string redacted first, then made inert and clipped."""
        ...


def safe_name(text: str | None, redact: Redact) -> str | None:
    """A name a server chose (its own, a tool's, a protocol version): one line of at most `NAME_LIMIT`."""
    return None if text is None else clean_line(redact(str(text)), NAME_LIMIT)


def safe_names(items: tuple[str, ...], redact: Redact) -> tuple[str, ...]:
    return tuple(clean_line(redact(str(item)), NAME_LIMIT) for item in items)


def safe_block(text: str, redact: Redact) -> str:
    """A block of text a server wrote (a description): line breaks kept, at most `TEXT_LIMIT`."""
    return clean_text(redact(str(text)), TEXT_LIMIT)


AUTH_LIST_LIMIT = 50
"""At most this many scopes (or other listed values) of an auth finding are kept: a server chose them."""


@dataclass(frozen=True, slots=True)
class AuthDetails:
    """Why a service refused our credentials, and what it would accept instead (built by core.probes.auth).

    `scheme`, `error`, `error_description` and `scope` come from the 401/403's `WWW-Authenticate`; for a remote
    MCP server, `resource` to `registration` from its protected-resource metadata (RFC 9728) and its
    authorization server's metadata (RFC 8414). Every string is the server's: made safe by `safe`.
    """

    http_status: int | None = None
    scheme: str | None = None
    error: str | None = None
    error_description: str | None = None
    scope: tuple[str, ...] = ()
    """Scopes the challenge asks for."""
    resource_metadata: str | None = None
    """Where the protected-resource metadata was read (or would be)."""
    resource: str | None = None
    authorization_servers: tuple[str, ...] = ()
    resource_scopes: tuple[str, ...] = ()
    """`scopes_supported` of the protected resource."""
    issuer: str | None = None
    issuer_scopes: tuple[str, ...] = ()
    """`scopes_supported` of the authorization server."""
    registration: bool | None = None
    """Whether the authorization server offers dynamic client registration (None: not known)."""
    problems: tuple[str, ...] = ()
    """Why part of the metadata could not be read ("no protected-resource metadata at ...")."""

    def safe(self, redact: Redact) -> Self:
        def names(items: tuple[str, ...]) -> tuple[str, ...]:
            return safe_names(items[:AUTH_LIST_LIMIT], redact)

        return replace(
            self,
            scheme=safe_name(self.scheme, redact),
            error=safe_name(self.error, redact),
            error_description=safe_name(self.error_description, redact),
            scope=names(self.scope),
            resource_metadata=safe_name(self.resource_metadata, redact),
            resource=safe_name(self.resource, redact),
            authorization_servers=names(self.authorization_servers),
            resource_scopes=names(self.resource_scopes),
            issuer=safe_name(self.issuer, redact),
            issuer_scopes=names(self.issuer_scopes),
            problems=names(self.problems),
        )


def safe_auth(auth: AuthDetails | None, redact: Redact) -> AuthDetails | None:
    return None if auth is None else auth.safe(redact)


@dataclass(frozen=True, slots=True)
class HttpDetails:
    """What an HTTP answer said about itself, beyond its status code (kept on the result)."""

    http_version: str | None = None
    body_truncated_at: int | None = None
    """The body was read only up to this many bytes (`max_body`); None when it was read whole."""
    auth: AuthDetails | None = None
    """Why the credentials were refused (a 401/403), else None."""

    def safe(self, redact: Redact) -> Self:
        return replace(self, http_version=safe_name(self.http_version, redact), auth=safe_auth(self.auth, redact))


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """How an MCP server names itself in the handshake."""

    name: str | None = None
    title: str | None = None
    version: str | None = None

    def safe(self, redact: Redact) -> Self:
        return replace(
            self,
            name=safe_name(self.name, redact),
            title=safe_name(self.title, redact),
            version=safe_name(self.version, redact),
        )


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """One listed tool, as an agent would see it in its context."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    raw_fingerprint: str = ""
    """A hash of the tool as the server sent it (core.pins.prints: name, title, description, schemas,
    annotations), before anything was made safe or clipped; "" for a tool built without one."""

    @property
    def context_text(self) -> str:
        """Roughly what a client puts in a model's context for this tool: name, description, schema as compact
        JSON, characters as themselves (see CHARS_PER_TOKEN)."""
        as_listed = {"name": self.name, "description": self.description, "input_schema": self.input_schema}
        return json.dumps(as_listed, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)

    @property
    def context_chars(self) -> int:
        """Characters this tool costs in a model's context."""
        return len(self.context_text)

    @property
    def approx_tokens(self) -> int:
        return self.context_chars // CHARS_PER_TOKEN

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything an agent sees of the tool changes (the probe reports such changes):
        the raw fingerprint when the probe took one, else a hash of the shown text."""
        if self.raw_fingerprint:
            return self.raw_fingerprint
        return hashlib.sha1(self.context_text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()

    def safe(self, redact: Redact) -> Self:
        schema = clean_tree(dict(self.input_schema), redact=redact, name_keys=SCHEMA_NAME_KEYS)
        return replace(
            self,
            name=clean_line(redact(str(self.name)), NAME_LIMIT),
            description=safe_block(self.description or "", redact),
            input_schema=schema,
        )


@dataclass(frozen=True, slots=True)
class ToolChange:
    """One difference between an MCP server's approved tools (its pin) and the tools it lists now."""

    tool: str
    change: str
    """added, removed or changed."""
    field: str = ""
    """For a change: the field that differs (`description`, `annotations.destructiveHint`...)."""
    approved: str = ""
    """The field's value as approved, as shown (one line, clipped)."""
    now: str = ""

    def safe(self, redact: Redact) -> Self:
        return replace(
            self,
            tool=clean_line(redact(self.tool), NAME_LIMIT),
            change=clean_line(self.change, NAME_LIMIT),
            field=clean_line(redact(self.field), NAME_LIMIT),
            approved=clean_line(redact(self.approved), TEXT_LIMIT),
            now=clean_line(redact(self.now), TEXT_LIMIT),
        )


@dataclass(frozen=True, slots=True)
class McpDetails:
    """What an MCP server told the last successful probe: who it is, what it offers, what that costs."""

    transport: str | None = None
    session: str | None = None
    """persistent or fresh: whether the probe keeps its session between probes."""
    protocol_version: str | None = None
    era: str | None = None
    """handshake (initialize) or modern (server/discover)."""
    server: ServerInfo = ServerInfo()
    capabilities: tuple[str, ...] = ()
    instructions_chars: int = 0
    tools: tuple[ToolInfo, ...] = ()
    resources: tuple[str, ...] = ()
    resource_templates: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    context_chars: int = 0
    """What the whole tool list costs an agent, measured on the raw text (before any display cut)."""
    context_tokens: int = 0
    inventory_limits: tuple[str, ...] = ()
    """Why a list was cut short (a cap reached, a pagination that would not end)."""
    cold_start: float | None = None
    """Milliseconds from spawn (or connect) to a finished handshake, when this probe made a new session."""
    pid: int | None = None
    """The server process (stdio only)."""
    stderr_lines: int | None = None
    auth: AuthDetails | None = None
    """Why the server refused the credentials (a 401/403, with its OAuth metadata), else None."""
    pin: str | None = None
    """The tools against their pin: "pinned" (first seen, now approved), "approved" (as approved), "changed"
    (differs from what was approved: `tool_changes` says how); None when no pins are kept."""
    tools_fingerprint: str | None = None
    """The fingerprint of the tools listed (what an approval of this result approves)."""
    tool_changes: tuple[ToolChange, ...] = ()

    @property
    def tool_count(self) -> int:
        return len(self.tools)

    @property
    def resource_count(self) -> int:
        return len(self.resources)

    @property
    def resource_template_count(self) -> int:
        return len(self.resource_templates)

    @property
    def prompt_count(self) -> int:
        return len(self.prompts)

    def safe(self, redact: Redact) -> Self:
        return replace(
            self,
            transport=safe_name(self.transport, redact),
            session=safe_name(self.session, redact),
            protocol_version=safe_name(self.protocol_version, redact),
            era=safe_name(self.era, redact),
            server=self.server.safe(redact),
            capabilities=safe_names(self.capabilities, redact),
            tools=tuple(tool.safe(redact) for tool in self.tools),
            resources=safe_names(self.resources, redact),
            resource_templates=safe_names(self.resource_templates, redact),
            prompts=safe_names(self.prompts, redact),
            inventory_limits=tuple(safe_block(limit, redact) for limit in self.inventory_limits),
            auth=safe_auth(self.auth, redact),
            pin=safe_name(self.pin, redact),
            tools_fingerprint=safe_name(self.tools_fingerprint, redact),
            tool_changes=tuple(change.safe(redact) for change in self.tool_changes),
        )
