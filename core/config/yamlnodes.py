"""YAML to plain data, remembering the line of every value and refusing what a config must not contain.

PyYAML's safe_load keeps the last of two equal keys without a word; a monitor
config with two `github-api:` entries must say so instead. It also trusts its
input in ways a config file must not: its composer recurses once per nesting
level (RecursionError on a deep file), aliases are expanded without a bound (a
"billion laughs" file takes gigabytes), and a self-referencing alias builds a
cyclic structure that anything walking it recursively never leaves.

So the data is built here from the parser's *event stream*, iteratively (no
recursion on user-controlled depth), with a nesting limit, a budget for values
reached through aliases, cycle detection, and only the standard scalar tags.
Events come from libyaml's C parser when PyYAML has it (about ten times faster
than the pure-Python one, which stays as the fallback); the builder is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[Any, ...]

MAX_DEPTH = 100
"""A services.yaml is a handful of levels deep; tool-call arguments may add a few more."""
ALIAS_BUDGET = 100_000
"""Values reachable through aliases, beyond ten per value actually written in the file.

Aliases share the anchored object, so building is cheap whatever the count; the
budget protects whatever walks the result afterwards (validation, the schema
check, a report), for which every alias is a full copy.
"""

_LoaderClass: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD = "tag:yaml.org,2002:"
_STR = _STANDARD + "str"
_MERGE = _STANDARD + "merge"
_SCALAR_TAGS = frozenset(_STANDARD + t for t in ("str", "int", "float", "bool", "null", "binary", "timestamp"))
_COLLECTION_TAGS = frozenset({None, "!", _STANDARD + "map", _STANDARD + "seq"})
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_FLOW_CONTEXT = ("flow", "quoted", "scanning", "block scalar")
"""Syntax-error contexts whose mark is where the broken construct opened, which is where to look."""


class YamlProblem(Exception):
    def __init__(self, line: int | None, path: Path, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.path = path
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int], list[YamlProblem]]:
    """(data, {path: line}, duplicate-key problems). Raises YamlProblem for anything that stops reading.

    Mapping keys keep their YAML type (`~` is None, `1` is 1), so the caller can
    refuse a service named `null` instead of calling it "None".
    """
    _check_characters(text)
    try:
        loader = _LoaderClass(text)
    except yaml.YAMLError as error:
        raise YamlProblem(None, (), f"invalid YAML: {error}") from None
    try:
        builder = _Builder(loader)
        return builder.build(), builder.lines, builder.problems
    except yaml.MarkedYAMLError as error:
        raise _syntax_problem(error) from None
    except yaml.YAMLError as error:
        raise YamlProblem(None, (), f"invalid YAML: {error}") from None
    finally:
        loader.dispose()


def _check_characters(text: str) -> None:
    """A NUL or other control character is refused with its line, before any parser sees it."""
    found = _NON_PRINTABLE.search(text)
    if found is None:
        return
    start = found.start()
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    character = found.group()
    name = "a NUL byte" if character == "\x00" else f"the control character {character!r}"
    raise YamlProblem(line, (), f"invalid YAML: {name} at column {column}; a services.yaml must be plain text")


def _syntax_problem(error: yaml.MarkedYAMLError) -> YamlProblem:
    """Locate a syntax error where a person should look.

    For a flow collection, a quoted string or a block scalar, the broken thing is
    where it *opened* (PyYAML's context mark): `api: [unclosed` is line 2 even though
    the parser only notices at the end of the file. Block-structure errors are best
    shown where the parser stopped (their context is merely the enclosing mapping).
    """
    problem = error.problem or "invalid YAML"
    context = error.context or ""
    opened, stopped = error.context_mark, error.problem_mark
    if opened is not None and stopped is not None and any(word in context for word in _FLOW_CONTEXT):
        if opened.line == stopped.line:
            return YamlProblem(opened.line + 1, (), f"invalid YAML: {problem} ({context})")
        construct = context.removeprefix("while parsing ").removeprefix("while scanning ")
        return YamlProblem(
            opened.line + 1,
            (),
            f"invalid YAML: {construct} opened here is not closed: {problem} (line {stopped.line + 1})",
        )
    mark = stopped or opened
    where = f" ({context} that starts on line {opened.line + 1})" if opened is not None and stopped is not None else ""
    return YamlProblem(mark.line + 1 if mark else None, (), f"invalid YAML: {problem}{where}")


_NO_KEY = object()
_BAD_KEY = object()
_MERGE_KEY = object()


@dataclass
class _Frame:
    """An open mapping or sequence while its events arrive."""

    is_mapping: bool
    path: Path | None
    """Where the collection sits; None inside a mapping key (no lines recorded there)."""
    anchor: str | None
    line: int
    items: list[Any] = field(default_factory=list)
    mapping: dict[Any, Any] = field(default_factory=dict)
    merges: list[dict[Any, Any]] = field(default_factory=list)
    first_line: dict[Any, int] = field(default_factory=dict)
    key: Any = _NO_KEY
    key_line: int = 0
    size: int = 1
    """Values in this collection counting every alias in full: what a recursive walk would visit."""


class _Builder:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.lines: dict[Path, int] = {}
        self.problems: list[YamlProblem] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.written = 0
        self.expanded = 0
        self.root: Any = None
        self.resolved: dict[str, str] = {}

    def build(self) -> Any:
        documents = 0
        while True:
            event = self.loader.get_event()
            if isinstance(event, yaml.StreamEndEvent):
                return self.root
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    mark = event.start_mark  # always set by the parser; the stubs allow None
                    raise YamlProblem(
                        mark.line + 1 if mark else None,
                        (),
                        "a second YAML document ('---') starts here; a services.yaml is one document",
                    )
            elif isinstance(event, yaml.ScalarEvent):
                self.scalar(event)
            elif isinstance(event, yaml.AliasEvent):
                self.alias(event)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                self.open(event)
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                self.close()

    # -- where the next value goes ------------------------------------------------------------

    def next_path(self) -> Path | None:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if frame.path is None:
            return None
        if frame.is_mapping:
            if frame.key is _NO_KEY:
                return None  # a key being built
            if frame.key is _BAD_KEY or frame.key is _MERGE_KEY:
                return None
            return (*frame.path, frame.key)
        return (*frame.path, len(frame.items))

    def place(self, value: Any, size: int, line: int) -> None:
        """Hand a finished value to its parent (or make it the document)."""
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += size
        if not frame.is_mapping:
            frame.items.append(value)
            return
        if frame.key is _NO_KEY:
            self.take_key(frame, value, line)
            return
        key, frame.key = frame.key, _NO_KEY
        if key is _BAD_KEY:
            return
        if key is _MERGE_KEY:
            self.take_merge(frame, value, line)
            return
        if key in frame.mapping:
            first = frame.first_line[key]
            where = (*frame.path, key) if frame.path is not None else ()
            self.problems.append(
                YamlProblem(frame.key_line, where, f"duplicate key {key!r} (first defined on line {first})")
            )
            return
        frame.mapping[key] = value
        frame.first_line[key] = frame.key_line
        if frame.path is not None:
            self.lines[(*frame.path, key)] = frame.key_line

    def take_key(self, frame: _Frame, key: Any, line: int) -> None:
        frame.key_line = line
        if key is _MERGE_KEY:
            frame.key = _MERGE_KEY
        elif isinstance(key, list | dict):
            where = frame.path if frame.path is not None else ()
            self.problems.append(YamlProblem(line, where, "a key must be a plain value"))
            frame.key = _BAD_KEY
        else:
            frame.key = key

    def take_merge(self, frame: _Frame, value: Any, line: int) -> None:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, dict) for source in sources):
            where = frame.path if frame.path is not None else ()
            self.problems.append(YamlProblem(line, where, "`<<` merges a mapping or a list of mappings"))
            return
        frame.merges.extend(sources)

    # -- events -------------------------------------------------------------------------------

    def scalar(self, event: Any) -> None:
        line = event.start_mark.line + 1
        path = self.next_path()
        value = self.construct(event, path, line)
        self.written += 1
        if path is not None:
            self.lines.setdefault(path, line)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        self.place(value, 1, line)

    def construct(self, event: Any, path: Path | None, line: int) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            plain = event.implicit[0] and tag is None
            if not plain:
                return event.value
            tag = self.resolved.get(event.value)
            if tag is None:
                tag = self.loader.resolve(yaml.ScalarNode, event.value, (True, False))
                if len(self.resolved) < 10_000:  # keys and words repeat from service to service
                    self.resolved[event.value] = tag
        if tag == _STR:
            return event.value
        if tag == _MERGE and self.stack and self.stack[-1].is_mapping and self.stack[-1].key is _NO_KEY:
            return _MERGE_KEY
        if tag not in _SCALAR_TAGS:
            if event.tag is None:
                return event.value  # an implicit oddity such as `=`: plain text, as written
            raise YamlProblem(line, path or (), f"the tag {_short(tag)} is not supported; use plain YAML values")
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.loader.yaml_constructors[tag](self.loader, node)
        except Exception:  # a standard constructor on odd text (a bad !!timestamp raises AttributeError)
            raise YamlProblem(line, path or (), _unreadable(event.value, tag)) from None

    def alias(self, event: Any) -> None:
        line = event.start_mark.line + 1
        name = event.anchor
        path = self.next_path()
        if name not in self.anchors:
            if name in self.open_anchors:
                message = f"the alias *{name} is inside &{name} itself: a structure cannot contain itself"
            else:
                message = f"the alias *{name} has no anchor &{name} before it"
            raise YamlProblem(line, path or (), f"invalid YAML: {message}")
        value, size = self.anchors[name]
        self.expanded += size
        if self.expanded > ALIAS_BUDGET + 10 * self.written:
            raise YamlProblem(
                line,
                path or (),
                f"too many alias expansions (over {ALIAS_BUDGET:,} values reached through aliases); "
                "anchors that nest aliases multiply",
            )
        if path is not None:
            self.lines.setdefault(path, line)
        self.place(value, size, line)

    def open(self, event: Any) -> None:
        line = event.start_mark.line + 1
        path = self.next_path()
        if len(self.stack) >= MAX_DEPTH:
            raise YamlProblem(line, (), f"nested deeper than {MAX_DEPTH} levels")
        if event.tag not in _COLLECTION_TAGS:
            raise YamlProblem(line, path or (), f"the tag {_short(event.tag)} is not supported; use plain YAML values")
        if path is not None:
            self.lines.setdefault(path, line)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
            self.anchors.pop(event.anchor, None)  # a redefined anchor must not satisfy an alias inside itself
        self.written += 1
        is_mapping = isinstance(event, yaml.MappingStartEvent)
        self.stack.append(_Frame(is_mapping, path, event.anchor, line))

    def close(self) -> None:
        frame = self.stack.pop()
        if frame.is_mapping:
            value: Any = {}
            for source in reversed(frame.merges):  # the first of `<<: [*a, *b]` wins, keys written here win over all
                value.update(source)
            value.update(frame.mapping)
        else:
            value = frame.items
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (value, frame.size)
        self.place(value, frame.size, frame.line)


def _short(tag: str | None) -> str:
    return "!!" + tag[len(_STANDARD) :] if tag and tag.startswith(_STANDARD) else repr(tag)


def _unreadable(value: str, tag: str) -> str:
    kind = tag[len(_STANDARD) :]
    digits = sum(ch.isdigit() for ch in value)
    if kind in ("int", "float") and digits > 100:
        return f"a number with {digits} digits is too long"
    shown = value if len(value) <= 40 else value[:39] + "…"
    return f"{shown!r} is not a valid {kind}"


class _Unusual(Exception):
    """The plain fast path met something it leaves to `_Builder` (an alias, a merge, a duplicate, an error)."""


_PLAIN_CACHE_LIMIT = 10_000


def load_plain(text: str) -> Any | None:
    """The data of an ordinary file without line numbers, or None when `load_with_lines` must read it.

    Most loads are of a valid file, where line numbers are never shown: recording a
    path and a line for each of 200,000 values took most of a 10,000-service load.
    This path builds the same data from the same events but handles only the plain
    case: mappings, sequences and untagged scalars, no anchors, aliases, merges,
    complex keys, duplicate keys or extra documents. Anything else (and any error)
    returns None, and the caller reads the file again with `load_with_lines`, which
    decides, locates and words every problem exactly as before.
    """
    try:
        if _NON_PRINTABLE.search(text) is not None:
            return None
        loader = _LoaderClass(text)
    except Exception:
        return None
    try:
        return _plain_events(loader)
    except Exception:  # _Unusual, a YAML error, an odd scalar: the full builder words it
        return None
    finally:
        loader.dispose()


def _plain_events(loader: Any) -> Any:
    stack: list[tuple[Any, bool, Any]] = []
    """The enclosing collections, each saved as (collection, is a list, key awaiting its value)."""
    top: Any = None
    """The collection being filled (None at the top level), kept in locals with `in_list` and `key`:
    this loop runs once per value of the file, and a local is cheaper than a look into `stack`."""
    in_list = False
    cache: dict[str, Any] = {}
    """Plain scalar text -> its value: keys and words repeat from service to service (all immutable)."""
    constructors = loader.yaml_constructors
    resolve = loader.resolve
    get_event = loader.get_event
    resolvers = loader.yaml_implicit_resolvers
    first_chars = frozenset(resolvers)
    """The characters an implicitly typed scalar (a number, a boolean, null, a timestamp) can start with."""
    shortcut = None not in resolvers and not loader.yaml_path_resolvers
    """resolve() would consult nothing else (no wildcard or path resolvers: never so for the safe loader)."""
    # Locals, not `yaml.X` lookups: this loop runs once per value of the file.
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    stream_end, document_start = yaml.StreamEndEvent, yaml.DocumentStartEvent
    scalar_node, no_key, plain_tags, collection_tags = yaml.ScalarNode, _NO_KEY, _SCALAR_TAGS, _COLLECTION_TAGS
    key: Any = no_key
    root: Any = None
    documents = 0
    while True:
        event = get_event()
        kind = type(event)
        if kind is scalar_event:
            if event.anchor is not None:
                raise _Unusual
            value = event.value
            tag = event.tag
            if tag is None and event.implicit[0]:
                found = cache.get(value, no_key)
                if found is no_key:
                    if shortcut and value and value[0] not in first_chars:
                        resolved = _STR  # what resolve() finds: no implicit type starts so (`svc-12`, `http://`)
                    else:
                        resolved = resolve(scalar_node, value, (True, False))
                    if resolved == _STR:
                        found = value
                    elif resolved in plain_tags:
                        node = scalar_node(resolved, value, event.start_mark, event.end_mark, event.style)
                        found = constructors[resolved](loader, node)
                    else:
                        raise _Unusual  # `<<`, or an implicit oddity
                    if len(cache) < _PLAIN_CACHE_LIMIT:
                        cache[value] = found
                value = found
            elif tag is not None and tag != "!":
                raise _Unusual
        elif kind is mapping_start or kind is sequence_start:
            if event.anchor is not None or event.tag not in collection_tags or len(stack) >= MAX_DEPTH:
                raise _Unusual
            if top is not None and not in_list and key is no_key:
                raise _Unusual  # a collection as a mapping key
            stack.append((top, in_list, key))
            in_list = kind is sequence_start
            top = [] if in_list else {}
            key = no_key
            continue
        elif kind is mapping_end or kind is sequence_end:
            value = top
            top, in_list, key = stack.pop()
        elif kind is stream_end:
            return root
        elif kind is document_start:
            documents += 1
            if documents > 1:
                raise _Unusual
            continue
        elif kind is alias_event:
            raise _Unusual
        else:
            continue
        if top is None:
            root = value
        elif in_list:
            top.append(value)
        elif key is no_key:
            key = value
        elif key in top:
            raise _Unusual  # a duplicate key: reported with both lines
        else:
            top[key] = value
            key = no_key
