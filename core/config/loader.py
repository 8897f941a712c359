"""Reading services.yaml: YAML with line numbers, environment interpolation,
defaults merged field by field, validation, dependency checks, and every
problem reported at once with file, line and field path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from core.collector import collections_paused
from core.config.errors import ConfigError, ConfigIssue
from core.config.interpolate import InterpolationError, interpolate
from core.config.messages import reword, suggest
from core.config.models import (
    WARN_INTERVAL,
    Defaults,
    McpClientEntry,
    McpService,
    ServiceConfig,
    services_file_model,
)
from core.config.yamlnodes import YamlProblem, load_plain, load_with_lines
from core.durations import format_duration
from core.kinds import find_kind, kind_named, kind_names
from core.redact import Redactor, arg_secrets, env_secrets, header_secrets, is_credential_name, url_secrets
from core.sanitize import clean_line, has_controls
from core.sizes import format_size

if TYPE_CHECKING:
    from core.alerts.config import AlertsSettings

TOP_LEVEL = ("defaults", "services", "mcpServers", "alerts")
CREDENTIAL_FIELDS = ("headers", "env")
MAX_CONFIG_BYTES = 5 * 1024 * 1024
"""A services.yaml of 10,000 services is about 1.5 MB; anything much larger is not a config file.
(MCP client files read by discovery, such as ~/.claude.json, may pass a larger `max_bytes`.)"""

_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    """A validated fleet: effective per-service settings (defaults already applied)."""

    services: dict[str, ServiceConfig]
    defaults: Defaults = field(default_factory=Defaults)
    path: Path | None = None
    redactor: Redactor = field(default_factory=Redactor)
    warnings: list[ConfigIssue] = field(default_factory=list)
    """Valid but probably not meant (an interval below 1s); `--check` prints them."""
    alerts: AlertsSettings | None = None
    """The `alerts:` block (channels, rules, maintenance windows); None when the file has none."""

    @property
    def concurrency(self) -> int:
        return self.defaults.concurrency

    def redact(self, text: str) -> str:
        return self.redactor(text)


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None, max_bytes: int = MAX_CONFIG_BYTES) -> Config:
    """Read and validate a services.yaml, or an MCP client's own config file (its name or shape says
    which: see core.clients.detect), read with that client's rules. Raises ConfigError (never anything else)."""
    from core.clients.yamlfiles import YAML_SUFFIXES, plainly_services_yaml

    path = Path(path).expanduser()
    yaml_file = path.suffix.lower() in YAML_SUFFIXES
    if yaml_file:  # read with the default limit: only ~/.claude.json gets a larger one
        text = read_config_text(path, max_bytes=max_bytes)
        if plainly_services_yaml(path, text):  # the common case, without importing every client's reader
            return parse_config(text, source=str(path), env=env, base_dir=path.parent, path=path)
    from core.clients.detect import load_client_config, read_limit  # here: services.yaml never loads client formats

    if not yaml_file:
        text = read_config_text(path, max_bytes=read_limit(path, max_bytes))

    client_config = load_client_config(path, text, env=env)
    if client_config is not None:
        return client_config
    return parse_config(text, source=str(path), env=env, base_dir=path.parent, path=path)


def read_config_text(path: Path, *, max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """The file's text, refusing what is not a config file before reading it.

    Only a regular file is read: a FIFO would block forever and `/dev/zero` would
    fill memory. The file is opened non-blocking and checked with fstat (no gap
    between the check and the read), and never more than `max_bytes` + 1 is read.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError.single(path, "no such file") from None
    except PermissionError:
        raise ConfigError.single(path, "cannot read: permission denied") from None
    except OSError as error:
        raise ConfigError.single(path, f"cannot read: {error.strerror or error}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError.single(path, "is a directory, not a services.yaml file")
        if not stat.S_ISREG(mode):
            raise ConfigError.single(path, f"is {_file_kind(mode)}, not a regular file: a config must be a file")
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise ConfigError.single(path, f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(descriptor)
    if len(data) > max_bytes:
        raise ConfigError.single(path, f"is larger than {format_size(max_bytes)}, the limit for a config file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigError.single(
            path, f"not UTF-8 text: byte 0x{data[error.start]:02x} at column {column}", line=line
        ) from None


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def parse_config(
    text: str,
    *,
    source: str = "<config>",
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    path: Path | None = None,
) -> Config:
    with collections_paused():
        return _Parser(source, os.environ if env is None else env, base_dir).parse(text, path)


class _Parser:
    def __init__(self, source: str, env: Mapping[str, str], base_dir: Path | None) -> None:
        self.source = source
        self.env = env
        self.base_dir = base_dir
        self.text = ""
        self._lines: dict[tuple[Any, ...], int] | None = None
        self.service_names: set[Any] = set()
        """Keys of the `services:` mapping: where a service sits, without computing line numbers."""
        self.issues: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.raw_services: dict[tuple[Any, ...], dict[Any, Any]] = {}
        """Each service's own settings (before defaults), to tell a set interval from an inherited one."""
        self.secrets: set[str] = set()
        self._policy_dumps: dict[tuple[int, str], dict[str, Any]] = {}
        self._submodels: dict[tuple[type[BaseModel], str], Any] = {}
        """Validated settings blocks by their frozen content, shared by the services that write the same."""
        self._expanded: dict[str, tuple[str, bool]] = {}
        """Each distinct string with a `$`, expanded once per load: (text, every variable was empty).
        `Authorization: Bearer ${TOKEN}` repeats in every service that calls the same API."""
        self.expands = True
        """False when the text has no `$` at all: interpolation would hand every value back as it is."""

    # -- reporting ---------------------------------------------------------------------------

    def issue(self, path: tuple[Any, ...], message: str) -> None:
        self.issues.append(ConfigIssue(self.source, self.line_of(path), _dotted(path), message))

    def warn(self, path: tuple[Any, ...], message: str) -> None:
        self.warnings.append(ConfigIssue(self.source, self.line_of(path), _dotted(path), f"warning: {message}"))

    @property
    def lines(self) -> dict[tuple[Any, ...], int]:
        """{path: line}, computed on first use: only a problem or a warning shows a line."""
        if self._lines is None:
            _, self._lines, _ = load_with_lines(self.text)
        return self._lines

    def line_of(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    # -- the pass ----------------------------------------------------------------------------

    def parse(self, text: str, path: Path | None) -> Config:
        self.text = text
        self.expands = "$" in text
        data = load_plain(text)
        problems: list[YamlProblem] = []
        try:
            if data is None:
                data, self._lines, problems = load_with_lines(text)
        except YamlProblem as fatal:
            raise ConfigError([ConfigIssue(self.source, fatal.line, _dotted(fatal.path), fatal.message)]) from None
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
        if isinstance(raw_services, dict):
            self.service_names = set(raw_services)
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
        alerts = self._alerts(data.get("alerts"), services) if "alerts" in data else None
        if self.issues:
            raise ConfigError(self._masked(self.issues))
        self._warn_about_intervals(data.get("defaults"), defaults, services)
        secrets = self.secrets | _fleet_secrets(services.values())
        if alerts is not None:
            secrets.update(alerts.secrets())
        return Config(
            services=services,
            defaults=defaults,
            path=path,
            redactor=Redactor(secrets),
            warnings=sorted(self.warnings, key=lambda issue: (issue.line or 0, issue.path)),
            alerts=alerts,
        )

    def _masked(self, issues: list[ConfigIssue]) -> list[ConfigIssue]:
        """An error message may quote a value; a ${GITHUB_TOKEN} in it is still a secret."""
        redact = Redactor(self.secrets)
        return [
            ConfigIssue(issue.file, issue.line, issue.path, redact(issue.message)) if self.secrets else issue
            for issue in issues
        ]

    def _warn_about_intervals(self, raw_defaults: Any, defaults: Defaults, services: dict[str, ServiceConfig]) -> None:
        if isinstance(raw_defaults, dict) and "interval" in raw_defaults and defaults.interval < WARN_INTERVAL:
            self.warn(("defaults", "interval"), _fast_interval(defaults.interval, "every service without its own"))
        for name, service in services.items():
            where = self._where(name)
            raw = self.raw_services.get(where, {})
            if isinstance(raw, dict) and "interval" in raw and service.interval < WARN_INTERVAL:
                self.warn((*where, "interval"), _fast_interval(service.interval, "this service"))

    def _defaults(self, raw: Any) -> Defaults:
        if raw is None:
            return Defaults()
        raw = self._interpolate(raw, ("defaults",))
        return self._validate(Defaults, raw, ("defaults",)) or Defaults()

    def _service(
        self, where: tuple[Any, ...], name: Any, raw: Any, defaults: Defaults, *, from_client: bool = False
    ) -> ServiceConfig | None:
        if not isinstance(name, str) or not name.strip():
            got = f" (got {_yaml_word(name)})" if not isinstance(name, str) else ""
            message = f"a service name must be a non-empty string{got}; quote it if it is meant as text"
            shown = f"{where[0]}.{_yaml_word(name)}"  # `services.12`, not the list index `services[12]`
            self.issues.append(ConfigIssue(self.source, self.line_of(where), shown, message))
            return None
        if "\n" in name or "\t" in name:
            self.issue(where, "a service name must be on one line")
            return None
        if has_controls(name):
            # Names are shown everywhere, on every screen: a control character in one would be a terminal escape.
            self.issue(where, f'a service name must not contain control characters (got "{clean_line(name, 60)}")')
            return None
        if not isinstance(raw, dict):
            self.issue(where, "must be a mapping of settings (kind, url or command, ...)")
            return None
        raw = self._interpolate(raw, where)
        self.raw_services[where] = raw
        kind = raw.get("kind")
        if kind is None:
            if "command" in raw or "transport" in raw:
                kind = "mcp"
            else:
                self.issue(where, f"kind: required: {_one_of(kind_names())}")
                return None
        known = find_kind(kind)
        if known is None:
            names = kind_names()
            hint = suggest(str(kind), names).replace(" (", "; ").rstrip(")")
            self.issue((*where, "kind"), f"must be {_one_of(names)} (got {kind!r}{hint})")
            return None
        model = known.config_model
        shape = _shape_of(model)
        merged = dict(raw)
        merged.setdefault("interval", defaults.interval)
        merged.setdefault("timeout", defaults.timeout)
        if shape.startup_timeout:
            merged.setdefault("startup_timeout", defaults.startup_timeout)
        for policy in ("retry", "breaker"):
            override = raw.get(policy)
            if isinstance(override, dict):
                merged[policy] = {**self._policy_fields(defaults, policy), **override}
            elif override is None:
                merged[policy] = getattr(defaults, policy)  # the validated, frozen model: shared, not re-validated
        for key, submodel, by_default in shape.blocks:
            written = merged.get(key, _ABSENT)
            if type(written) is dict:
                merged[key] = self._shared_submodel(submodel, written)
            elif written is _ABSENT and by_default:
                merged[key] = self._shared_submodel(submodel, {})  # what its default_factory would build
        merged["name"] = name
        if shape.cwd and isinstance(merged.get("cwd"), str) and merged["cwd"]:
            cwd = Path(merged["cwd"]).expanduser()
            merged["cwd"] = str(cwd if cwd.is_absolute() or self.base_dir is None else (self.base_dir / cwd))
        service = self._validate(model, merged, where)
        if isinstance(service, McpService) and service.transport == "stdio" and service.cwd:
            self._check_cwd(service.cwd, (*where, "cwd"))
        return service

    def _policy_fields(self, defaults: Defaults, policy: str) -> dict[str, Any]:
        """The defaults' retry or breaker as fields, dumped once per load rather than once per service."""
        key = (id(defaults), policy)
        fields = self._policy_dumps.get(key)
        if fields is None:
            fields = self._policy_dumps[key] = getattr(defaults, policy).model_dump()
        return fields

    def _shared_submodel(self, model: type[BaseModel], raw: dict[Any, Any]) -> Any:
        """One validated instance per distinct block (`expect: {status: [200, 204]}`, `retry: {attempts: 2}`)
        for all the services that write it, instead of one validation per service.

        The models are frozen, so sharing one is safe (the defaults' retry and breaker always were shared),
        and the service's own validation takes the instance as it is. Only a block that validates alone is
        shared: anything else is handed back as written, and the service's validation reports it exactly
        as before (same message, same path). The key is the block's repr: YAML's plain data (strings,
        numbers, booleans, null, timestamps, lists, mappings) reads back unambiguously from it, types and
        key order included (`1`, `1.0` and `true` are equal in Python, not to a validator).
        """
        key = (model, repr(raw))
        found = self._submodels.get(key)
        if found is None:
            try:
                found = model.model_validate(raw)
            except ValidationError:
                found = raw
            if len(self._submodels) < _SHARED_LIMIT:
                self._submodels[key] = found
        return found

    def _check_cwd(self, cwd: str, path: tuple[Any, ...]) -> None:
        """A missing working directory is a config mistake, not "command not found" at run time."""
        try:
            status = os.stat(cwd)
        except FileNotFoundError:
            self.issue(path, f"no such directory: {cwd}")
            return
        except OSError as error:
            self.issue(path, f"cannot use {cwd}: {error.strerror or error}")
            return
        if not stat.S_ISDIR(status.st_mode):
            self.issue(path, f"not a directory: {cwd}")

    def _validate(self, model: type[_Model], raw: Any, where: tuple[Any, ...]) -> _Model | None:
        try:
            return model.model_validate(raw)
        except ValidationError as error:
            for detail in error.errors(include_url=False):
                loc = _without_union_tags(raw, tuple(part for part in detail["loc"] if part != "[key]"))
                self.issue((*where, *loc), reword(detail, lambda sub: _fields_at(model, sub)))
            return None

    def _interpolate(self, value: Any, path: tuple[Any, ...]) -> Any:
        """Expand ${VAR} in every string value; drop credential entries whose variables are all empty.

        A variable whose name marks it as a secret (GITHUB_TOKEN, API_KEY, ...) is
        masked wherever it lands; any other value is a secret only in a credential
        position, which is judged on the validated config (see parse()).

        A mapping or list with nothing to expand is handed back as it is, not copied (the values are
        only read from here on).
        """
        if not self.expands:
            return value
        if isinstance(value, str):
            known = self._expanded.get(value)
            if known is None:
                try:
                    result = interpolate(value, self.env)
                except InterpolationError as error:
                    self.issue(path, str(error))  # not remembered: each place that writes it is reported
                    return value
                for expansion in result.expansions:
                    if expansion.from_env and is_credential_name(expansion.variable):
                        self.secrets.add(expansion.value)
                known = (result.text, result.all_empty)
                if len(self._expanded) < _SHARED_LIMIT:
                    self._expanded[value] = known
            text, all_empty = known
            if all_empty and _is_credential_path(path):
                return _DROP
            return text
        shallow = len(path) < _REPR_DEPTH
        if isinstance(value, dict):
            out: dict[Any, Any] | None = None
            for index, (key, item) in enumerate(value.items()):
                if _nothing_to_expand(item) or (shallow and "$" not in repr(item)):
                    if out is not None:
                        out[key] = item  # the common case, without a path tuple per value
                    continue
                expanded = self._interpolate(item, (*path, key))
                if out is None:
                    if expanded is item:
                        continue
                    out = dict(islice(value.items(), index))  # the first change: copy what came before
                if expanded is not _DROP:
                    out[key] = expanded
            return value if out is None else out
        if isinstance(value, list):
            items: list[Any] | None = None
            for index, item in enumerate(value):
                if _nothing_to_expand(item) or (shallow and "$" not in repr(item)):
                    if items is not None:
                        items.append(item)
                    continue
                expanded = self._interpolate(item, (*path, index))
                if items is None:
                    if expanded is item:
                        continue
                    items = value[:index]
                items.append(expanded)
            return value if items is None else items
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
        for cycle in _find_cycles(services):
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                self.issue((*self._where(cycle[0]), "depends_on"), _describe_cycle(cycle))

    def _alerts(self, raw: Any, services: dict[str, ServiceConfig]) -> AlertsSettings | None:
        """The `alerts:` block, validated, with its references checked against the services and channels."""
        from core.alerts.config import AlertsSettings  # the alerts models import core.config.models

        if raw is None:
            return None
        raw = self._interpolate(raw, ("alerts",))
        settings = self._validate(AlertsSettings, raw, ("alerts",))
        if settings is None:
            return None
        seen: dict[str, int] = {}
        for index, rule in enumerate(settings.rules):
            where = ("alerts", "rules", index)
            if rule.name in seen:
                self.issue((*where, "name"), f"duplicate rule name {rule.name!r} (also rules[{seen[rule.name]}])")
            seen.setdefault(rule.name, index)
            for position, channel in enumerate(rule.channels):
                if channel not in settings.channels:
                    hint = suggest(channel, settings.channels)
                    self.issue((*where, "channels", position), f"unknown channel {channel!r}{hint}")
            self._check_selected(where, rule.services, services)
            if rule.condition == "tools_changed":
                self._check_selects_mcp(where, rule, services)
        for index, window in enumerate(settings.maintenance):
            self._check_selected(("alerts", "maintenance", index), window.services, services)
        return settings

    def _check_selected(self, where: tuple[Any, ...], names: list[str], services: dict[str, ServiceConfig]) -> None:
        for position, target in enumerate(names):
            if target not in services:
                self.issue((*where, "services", position), f"unknown service {target!r}{suggest(target, services)}")

    def _check_selects_mcp(self, where: tuple[Any, ...], rule: Any, services: dict[str, ServiceConfig]) -> None:
        """A `tools_changed` rule that names its services must name an MCP server among them: only those have
        tools to pin, so a rule aimed at HTTP APIs alone would stay silent forever. (A rule naming nobody
        applies to every service; a fleet with no MCP server yet is not an error.)"""
        if not (rule.services or rule.tags or rule.kinds):
            return
        if any(rule.selects(name, s.tags, s.kind) and s.kind == "mcp" for name, s in services.items()):
            return
        self.issue(
            (*where, "when"),
            "tools_changed watches MCP servers' tools, and this rule's services, tags and kinds select none",
        )

    def _where(self, name: str) -> tuple[Any, ...]:
        return ("services", name) if name in self.service_names else ("mcpServers", name)


_DROP = object()
_SHARED_LIMIT = 10_000
"""Distinct settings blocks remembered per load: a fleet of unique blocks must not grow it without end."""


_ABSENT = object()


@dataclass(frozen=True)
class _Shape:
    """What `_service` needs to know of a kind's model, read once per model (pydantic's `model_fields`
    is a computed property, and a load would ask it per service)."""

    startup_timeout: bool
    cwd: bool
    blocks: tuple[tuple[str, type[BaseModel], bool], ...]
    """(field, frozen settings model, whether its default is a fresh `model()`): `expect`, `retry`, ...
    Only a field that is the model itself (or it or None), with no validator of its own, is listed:
    a `dict[str, Model]`, or a field whose validator expects the mapping, is validated as written."""


_SHAPES: dict[type[BaseModel], _Shape] = {}


def _shape_of(model: type[BaseModel]) -> _Shape:
    found = _SHAPES.get(model)
    if found is None:
        validators = model.__pydantic_decorators__.field_validators.values()
        validated = {name for decorator in validators for name in decorator.info.fields}
        blocks = []
        for name, info in model.model_fields.items():
            submodel = _direct_model(info.annotation)
            if submodel is None or not submodel.model_config.get("frozen") or info.metadata or name in validated:
                continue
            blocks.append((name, submodel, info.default_factory is submodel))
        fields = model.model_fields
        found = _SHAPES[model] = _Shape("startup_timeout" in fields, "cwd" in fields, tuple(blocks))
    return found


def _direct_model(annotation: Any) -> type[BaseModel] | None:
    """`HttpExpect` or `McpCall | None` -> the model; anything else (a list or dict of models) -> None."""
    if get_origin(annotation) in (Union, UnionType):
        others = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = others[0] if len(others) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


class _ResolvedParser(_Parser):
    """Values already interpolated by their MCP client's own rules (core.clients): taken as written."""

    def _interpolate(self, value: Any, path: tuple[Any, ...]) -> Any:
        return value


def build_config(
    entries: list[tuple[str, tuple[Any, ...], str, dict[str, Any]]],
    *,
    lines: Mapping[tuple[str, tuple[Any, ...]], int],
    path: Path | None = None,
    secrets: set[str] | None = None,
    warnings: list[ConfigIssue] | None = None,
) -> Config:
    """A fleet from (file, where, name, service settings) entries whose strings need no interpolation
    (MCP client files, already expanded by each client's own rules). Validated like services.yaml, with
    the same messages, each at its file and line (`lines` is keyed by (file, path)); raises ConfigError
    with every problem."""
    parser = _ResolvedParser("<client>", {}, None)
    defaults = Defaults()
    services: dict[str, ServiceConfig] = {}
    for source, where, name, raw in entries:
        parser.source = source
        parser.base_dir = Path(source).parent
        parser._lines = {key: line for (file, key), line in lines.items() if file == source}
        if name in services:
            parser.issue(where, f"duplicate service name {name!r}")
            continue
        service = parser._service(where, name, raw, defaults)
        if service is not None:
            services[name] = service
    if parser.issues:
        redact = Redactor(secrets or set())
        raise ConfigError([ConfigIssue(i.file, i.line, i.path, redact(i.message)) for i in parser.issues])
    found = set(secrets or ()) | _fleet_secrets(services.values())
    return Config(
        services=services, defaults=defaults, path=path, redactor=Redactor(found), warnings=list(warnings or [])
    )


_REPR_DEPTH = 4
"""Down to a service's settings blocks (`services.NAME.expect`), a block is skipped when its repr, one
C-level pass, shows no `$`; deeper, values are walked one by one (a repr per level of a deeply nested
value would read it once per level)."""


def _nothing_to_expand(item: Any) -> bool:
    """A string without `$`, or a scalar: `_interpolate` would return it as it is."""
    kind = type(item)
    if kind is str:
        return "$" not in item
    return kind is not dict and kind is not list and not isinstance(item, str | dict | list)


def _is_credential_path(path: tuple[Any, ...]) -> bool:
    return len(path) >= 2 and path[-2] in CREDENTIAL_FIELDS


def _fleet_secrets(services: Iterable[ServiceConfig]) -> set[str]:
    """Literal or interpolated, these values are credentials by where they sit (see core/redact.py).

    Positions are found by field name, whatever the kind: a new kind with `headers` or `env` is covered.
    Only the names a model has are read: asking a pydantic model for a name it lacks goes through its
    `__getattr__` and an AttributeError, twice per http service. The same headers, env or args, as a
    fleet repeats them from service to service, are read once (same values, same secrets found).
    """
    found: set[str] = set()
    seen: set[tuple[Any, ...]] = set()

    def first_time(*block: Any) -> bool:
        try:
            if block in seen:
                return False
            seen.add(block)
        except TypeError:  # a kind whose values are not plain strings: read every time, as before
            pass
        return True

    for service in services:
        has = _credential_names(type(service))
        headers = getattr(service, "headers", None) if "headers" in has else None
        if headers and first_time("headers", *headers.items()):
            found.update(header_secrets(headers))
        url = getattr(service, "url", None) if "url" in has else None
        if url:
            found.update(url_secrets(url))
        env = getattr(service, "env", None) if "env" in has else None
        if env and first_time("env", *env.items()):
            found.update(env_secrets(env))
        args = getattr(service, "args", None) if "args" in has else None
        if args and first_time("args", *args):
            found.update(arg_secrets(args))
    return found


_CREDENTIAL_NAMES: dict[type, frozenset[str]] = {}


def _credential_names(model: type) -> frozenset[str]:
    """Which of headers, url, env and args a service model has, as a field or any other attribute."""
    found = _CREDENTIAL_NAMES.get(model)
    if found is None:
        fields = getattr(model, "__pydantic_fields__", {})
        names = ("headers", "url", "env", "args")
        found = _CREDENTIAL_NAMES[model] = frozenset(n for n in names if n in fields or hasattr(model, n))
    return found


def _one_of(names: tuple[str, ...]) -> str:
    """ "http or mcp", "http, mcp or toy": the kinds a service may be."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _fast_interval(seconds: float, who: str) -> str:
    return (
        f"interval {format_duration(seconds)} is below {format_duration(WARN_INTERVAL)}: "
        f"{who} is probed more than once a second"
    )


def _find_cycles(services: Mapping[str, ServiceConfig]) -> list[list[str]]:
    """Every dependency cycle once, each starting at its first service in file order.

    Iterative depth-first search with three colours: a chain of thousands of
    `depends_on` links must not exhaust Python's recursion limit.
    """
    order = {name: index for index, name in enumerate(services)}
    done: set[str] = set()
    cycles: list[list[str]] = []
    for root in services:
        if root in done:
            continue
        path: list[str] = [root]
        on_path: dict[str, int] = {root: 0}
        pending = [iter(services[root].depends_on)]
        while pending:
            target = next(pending[-1], None)
            if target is None:
                pending.pop()
                finished = path.pop()
                del on_path[finished]
                done.add(finished)
                continue
            if target == path[-1] or target not in services or target in done:
                continue
            if target in on_path:
                cycle = path[on_path[target] :]
                first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                cycles.append([*cycle[first:], *cycle[:first], cycle[first]])
                continue
            on_path[target] = len(path)
            path.append(target)
            pending.append(iter(services[target].depends_on))
    return cycles


def _describe_cycle(cycle: list[str]) -> str:
    """ "dependency cycle: a -> b -> a"; a cycle through thousands of services is shown by its ends."""
    if len(cycle) <= 12:
        return "dependency cycle: " + " -> ".join(cycle)
    shown = [*cycle[:5], "…", *cycle[-3:]]
    return f"dependency cycle through {len(cycle) - 1} services: " + " -> ".join(shown)


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            word = part if isinstance(part, str) else _yaml_word(part)
            if not word.isprintable():  # a key holding a newline or an escape must not break the message line
                word = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in word)
            text += ("." if text else "") + (word if len(word) <= 60 else word[:59] + "…")
    return text


def _yaml_word(value: Any) -> str:
    """A non-string key as it reads in YAML: `~` and `null` are null, `yes` is true."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
    return [info.alias or name for name, info in current.model_fields.items() if name != "name"]


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of services.yaml, generated from the models the loader validates with (every registered kind)."""
    models = tuple(kind_named(name).config_model for name in kind_names())
    schema = services_file_model(models).model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _without_union_tags(raw: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic puts a tagged union's tag in the error path (`channels.hook.webhook.timeout`); the file has
    no such key, so drop it: the path then names the YAML line (`channels.hook.timeout`)."""
    out: list[Any] = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue
        out.append(part)
        node = _child(node, part)
    return tuple(out)


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None
