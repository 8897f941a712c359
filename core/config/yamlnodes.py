"""YAML to plain data, remembering the line of every value and refusing duplicate keys.

PyYAML's safe_load keeps the last of two equal keys without a word; a monitor
config with two `github-api:` entries must say so instead. Walking the composed
node tree gives us both the duplicates and a line for every field path.
"""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlProblem(Exception):
    def __init__(self, line: int | None, path: Path, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.path = path
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int], list[YamlProblem]]:
    """(data, {path: line}, duplicate-key problems). Raises YamlProblem for syntax errors."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        problem = error.problem or error.context or "invalid YAML"
        raise YamlProblem(line, (), f"invalid YAML: {problem}") from None
    except yaml.YAMLError as error:
        raise YamlProblem(None, (), f"invalid YAML: {error}") from None
    finally:
        loader.dispose()
    if node is None:
        return None, {}, []
    lines: dict[Path, int] = {}
    problems: list[YamlProblem] = []
    constructor = yaml.SafeLoader("")
    data = _walk(node, (), lines, problems, constructor)
    return data, lines, problems


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[YamlProblem], ctor: Any) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        ctor.flatten_mapping(node)  # YAML merge keys (<<: *anchor) behave as in safe_load
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = ctor.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                problems.append(YamlProblem(key_node.start_mark.line + 1, path, "a key must be a plain value"))
                continue
            key = key if isinstance(key, str | int) else str(key)
            line = key_node.start_mark.line + 1
            if key in result:
                problems.append(
                    YamlProblem(line, (*path, key), f"duplicate key {key!r} (first defined on line {first_line[key]})")
                )
                continue
            first_line[key] = line
            result[key] = _walk(value_node, (*path, key), lines, problems, ctor)
            lines[(*path, key)] = line
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), lines, problems, ctor) for i, item in enumerate(node.value)]
    return ctor.construct_object(node, deep=True)
