"""Reading services.yaml: YAML with line numbers, environment interpolation,
defaults merged field by field, validation, dependency checks, and every
problem reported at once with file, line and field path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from core.config.errors import ConfigError, ConfigIssue
from core.config.interpolate import InterpolationError, interpolate
from core.config.messages import reword, suggest
from core.config.models import (
    Defaults,
    HttpService,
    McpClientEntry,
    McpService,
    ServiceConfig,
    ServicesFile,
)
from core.config.yamlnodes import YamlProblem, load_with_lines
from core.redact import SENSITIVE_NAME, Redactor

TOP_LEVEL = ("defaults", "services", "mcpServers")
KINDS: dict[str, type[BaseModel]] = {"http": HttpService, "mcp": McpService}
CREDENTIAL_FIELDS = ("headers", "env")


@dataclass(frozen=True)
class Config:
    """A validated fleet: effective per-service settings (defaults already applied)."""

    services: dict[str, ServiceConfig]
    defaults: Defaults = field(default_factory=Defaults)
    path: Path | None = None
    redactor: Redactor = field(default_factory=Redactor)

    @property
    def concurrency(self) -> int:
        return self.defaults.concurrency

    def redact(self, text: str) -> str:
        return self.redactor(text)


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a services.yaml. Raises ConfigError (never anything else)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.single(path, "no such file") from None
    except IsADirectoryError:
        raise ConfigError.single(path, "is a directory, not a services.yaml file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError.single(path, f"cannot read: {error}") from None
    return parse_config(text, source=str(path), env=env, base_dir=path.parent, path=path)


def parse_config(
    text: str,
    *,
    source: str = "<config>",
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    path: Path | None = None,
) -> Config:
    return _Parser(source, os.environ if env is None else env, base_dir).parse(text, path)


class _Parser:
    def __init__(self, source: str, env: Mapping[str, str], base_dir: Path | None) -> None:
        self.source = source
        self.env = env
        self.base_dir = base_dir
        self.lines: dict[tuple[Any, ...], int] = {}
        self.issues: list[ConfigIssue] = []
        self.secrets: set[str] = set()

    # -- reporting ---------------------------------------------------------------------------

    def issue(self, path: tuple[Any, ...], message: str) -> None:
        self.issues.append(ConfigIssue(self.source, self.line_of(path), _dotted(path), message))

    def line_of(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    # -- the pass ----------------------------------------------------------------------------

    def parse(self, text: str, path: Path | None) -> Config:
        try:
            data, self.lines, problems = load_with_lines(text)
        except YamlProblem as problem:
            raise ConfigError([ConfigIssue(self.source, problem.line, "", problem.message)]) from None
        for problem in problems:
            message = problem.message
            if len(problem.path) == 2 and problem.path[0] in ("services", "mcpServers"):
                message = message.replace("duplicate key", "duplicate service name", 1)
            self.issues.append(ConfigIssue(self.source, problem.line, _dotted(problem.path), message))
        if data is None:
            raise ConfigError.single(self.source, "the file is empty: expected a `services:` mapping")
        if not isinstance(data, dict):
            raise ConfigError.single(self.source, "expected a mapping with `services:` at the top level", line=1)
        client_config = "mcpServers" in data and "services" not in data and "defaults" not in data
        for key in data:
            if key not in TOP_LEVEL and not client_config:
                self.issue(
                    (key,),
                    f"unknown top-level field{suggest(str(key), TOP_LEVEL)}; expected one of " + ", ".join(TOP_LEVEL),
                )
        defaults = self._defaults(data.get("defaults"))
        services: dict[str, ServiceConfig] = {}
        raw_services = data.get("services")
        if raw_services is not None and not isinstance(raw_services, dict):
            self.issue(("services",), "must be a mapping of service name -> settings")
            raw_services = {}
        for name, raw in (raw_services or {}).items():
            service = self._service(("services", name), name, raw, defaults)
            if service is not None:
                services[str(name)] = service
        raw_clients = data.get("mcpServers")
        if raw_clients is not None and not isinstance(raw_clients, dict):
            self.issue(("mcpServers",), "must be a mapping of server name -> settings")
            raw_clients = {}
        for name, raw in (raw_clients or {}).items():
            where = ("mcpServers", name)
            if str(name) in services or (raw_services and name in raw_services):
                first = self.line_of(("services", name))
                self.issue(where, f"duplicate service name {name!r} (also under services, line {first})")
                continue
            entry = self._validate(McpClientEntry, raw, where)
            if entry is None or entry.disabled:
                continue
            service = self._service(where, name, entry.as_service(), defaults, from_client=True)
            if service is not None:
                services[str(name)] = service
        if not services and not self.issues:
            self.issue(("services",) if "services" in data else (), "no services defined")
        self._check_dependencies(services)
        if self.issues:
            raise ConfigError(self.issues)
        secrets = set(self.secrets)
        for service in services.values():
            for name, value in _credentials(service):
                if SENSITIVE_NAME.search(name):
                    secrets.add(_credential_part(value))
        return Config(services=services, defaults=defaults, path=path, redactor=Redactor(secrets))

    def _defaults(self, raw: Any) -> Defaults:
        if raw is None:
            return Defaults()
        raw = self._interpolate(raw, ("defaults",))
        return self._validate(Defaults, raw, ("defaults",)) or Defaults()

    def _service(
        self, where: tuple[Any, ...], name: Any, raw: Any, defaults: Defaults, *, from_client: bool = False
    ) -> ServiceConfig | None:
        if not isinstance(name, str) or not name.strip():
            self.issue(where, "a service name must be a non-empty string")
            return None
        if any(ch in name for ch in "\n\t"):
            self.issue(where, "a service name must be on one line")
            return None
        if not isinstance(raw, dict):
            self.issue(where, "must be a mapping of settings (kind, url or command, ...)")
            return None
        raw = self._interpolate(raw, where)
        kind = raw.get("kind")
        if kind is None:
            if "command" in raw or "transport" in raw:
                kind = "mcp"
            else:
                self.issue(where, "kind: required: http or mcp")
                return None
        model = KINDS.get(kind) if isinstance(kind, str) else None
        if model is None:
            hint = suggest(str(kind), KINDS).replace(" (", "; ").rstrip(")")
            self.issue((*where, "kind"), f"must be http or mcp (got {kind!r}{hint})")
            return None
        merged = dict(raw)
        merged.setdefault("interval", defaults.interval)
        merged.setdefault("timeout", defaults.timeout)
        if kind == "mcp":
            merged.setdefault("startup_timeout", defaults.startup_timeout)
        for policy in ("retry", "breaker"):
            base = getattr(defaults, policy).model_dump()
            override = raw.get(policy)
            if isinstance(override, dict):
                merged[policy] = {**base, **override}
            elif override is None:
                merged[policy] = base
        merged["name"] = name
        if kind == "mcp" and merged.get("cwd") and self.base_dir is not None:
            cwd = Path(str(merged["cwd"])).expanduser()
            merged["cwd"] = str(cwd if cwd.is_absolute() else (self.base_dir / cwd))
        service = self._validate(model, merged, where)
        return service  # type: ignore[return-value]

    def _validate(self, model: type[BaseModel], raw: Any, where: tuple[Any, ...]) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                loc = tuple(detail["loc"])
                self.issue((*where, *loc), reword(detail, model, lambda sub: _fields_at(model, sub)))
            return None

    def _interpolate(self, value: Any, path: tuple[Any, ...]) -> Any:
        """Expand ${VAR} in every string value; drop credential entries whose variables are all empty."""
        if isinstance(value, str):
            try:
                result = interpolate(value, self.env)
            except InterpolationError as error:
                self.issue(path, str(error))
                return value
            self.secrets.update(v for v in result.values if len(v) >= 6 or _is_credential_path(path))
            if result.all_empty and _is_credential_path(path):
                return _DROP
            return result.text
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                expanded = self._interpolate(item, (*path, key))
                if expanded is not _DROP:
                    out[key] = expanded
            return out
        if isinstance(value, list):
            return [self._interpolate(item, (*path, i)) for i, item in enumerate(value)]
        return value

    def _check_dependencies(self, services: dict[str, ServiceConfig]) -> None:
        for name, service in services.items():
            where = self._where(name)
            for index, target in enumerate(service.depends_on):
                if target == name:
                    self.issue((*where, "depends_on", index), "a service cannot depend on itself")
                elif target not in services:
                    hint = suggest(target, services)
                    self.issue((*where, "depends_on", index), f"unknown service {target!r}{hint}")
        reported: set[frozenset[str]] = set()
        for name in services:
            cycle = _find_cycle(name, services)
            if cycle and frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                self.issue((*self._where(cycle[0]), "depends_on"), "dependency cycle: " + " -> ".join(cycle))

    def _where(self, name: str) -> tuple[Any, ...]:
        return ("services", name) if ("services", name) in self.lines else ("mcpServers", name)


_DROP = object()


def _is_credential_path(path: tuple[Any, ...]) -> bool:
    return len(path) >= 2 and path[-2] in CREDENTIAL_FIELDS


def _credentials(service: ServiceConfig) -> list[tuple[str, str]]:
    pairs = list(service.headers.items())
    if isinstance(service, McpService):
        pairs += list(service.env.items())
    return pairs


def _credential_part(value: str) -> str:
    """ "Bearer abc123" -> "abc123": the secret is the credential, not the scheme word."""
    scheme, _, rest = value.partition(" ")
    return rest.strip() if rest.strip() and scheme.lower() in ("bearer", "basic", "token", "bot") else value


def _find_cycle(start: str, services: Mapping[str, ServiceConfig]) -> list[str] | None:
    path: list[str] = []
    on_path: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in on_path:
            return [*path[path.index(name) :], name]
        service = services.get(name)
        if service is None:
            return None
        path.append(name)
        on_path.add(name)
        for target in service.depends_on:
            if target != name:
                found = visit(target)
                if found:
                    return found
        path.pop()
        on_path.discard(name)
        return None

    cycle = visit(start)
    return cycle if cycle and cycle[0] == start else None


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (sub)model at `loc`, for "did you mean" hints."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if info is None:
            return []
        current = _model_of(info.annotation)
    if current is None or not hasattr(current, "model_fields"):
        return []
    return [name for name in current.model_fields if name != "name"]


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of services.yaml, generated from the models the loader validates with."""
    schema = ServicesFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_schema(path: str | Path) -> None:
    Path(path).write_text(json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
