"""Tool pins: per-field fingerprints over the raw text, the diff they name, and the pin store in the history file."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from mcp_types import ServerCapabilities, Tool, ToolAnnotations

from core.details import McpDetails, ToolInfo
from core.history.schema import DDL
from core.history.store import open_history
from core.pins.diff import diff_tools, render_changes, tool_changes
from core.pins.prints import SHOWN_LIMIT, ToolSet, raw_fields, tool_print
from core.pins.store import PinStore
from core.probes.mcp.details import declared_capabilities
from core.probes.mcp.inventory import tool_info


def same(text: str) -> str:
    return text


def delete_tool(**changes: object) -> Tool:
    tool = Tool(
        name="delete_records",
        title="Delete records",
        description="Delete every record of a table.",
        input_schema={"type": "object", "properties": {"table": {"type": "string"}}},
        annotations=ToolAnnotations(destructive_hint=True),
    )
    return tool.model_copy(update=changes)


def tools(*listed: Tool) -> ToolSet:
    return ToolSet.of(tool_print(tool, same) for tool in listed)


def test_annotations_are_compared_key_by_key_by_their_wire_names() -> None:
    fields = raw_fields(delete_tool())
    assert fields["annotations.destructiveHint"] is True
    assert set(fields) == {"name", "title", "description", "inputSchema", "annotations.destructiveHint"}


def test_a_destructive_hint_flip_an_output_schema_and_a_title_are_each_named() -> None:
    before = tools(delete_tool())
    after = tools(
        delete_tool(
            title="Tidy records",
            annotations=ToolAnnotations(destructive_hint=False),
            output_schema={"type": "object"},
        )
    )
    diff = diff_tools(before, after)
    assert diff.changed == (("delete_records", ("annotations.destructiveHint", "outputSchema", "title")),)
    assert diff.describe() == (
        "tool delete_records annotations.destructiveHint, outputSchema, title changed since approved"
    )
    rows = {change.field: (change.approved, change.now) for change in tool_changes(before, after)}
    assert rows["annotations.destructiveHint"] == ("true", "false")
    assert rows["outputSchema"] == ("(absent)", '{"type":"object"}')
    assert before.fingerprint != after.fingerprint


def test_added_and_removed_tools_and_the_reason_stays_one_line() -> None:
    base = tools(delete_tool())
    more = tools(*(delete_tool(name=f"t{i}") for i in range(6)))
    diff = diff_tools(base, more)
    assert diff.added == tuple(f"t{i}" for i in range(6)) and diff.removed == ("delete_records",)
    assert diff.describe() == "tool t0 added; tool t1 added; tool t2 added; and 4 more changes since approved"
    assert not diff_tools(base, tools(delete_tool()))


def test_a_change_beyond_the_shown_text_is_still_a_change() -> None:
    long = "x" * (SHOWN_LIMIT * 2)
    before = tools(delete_tool(description=long + "a"))
    after = tools(delete_tool(description=long + "b"))
    [change] = tool_changes(before, after)
    assert change.field == "description" and change.approved == change.now  # both clipped alike
    assert "    (the values differ beyond the text shown)" in render_changes((change,))


def test_the_fingerprint_is_over_the_raw_text_not_the_shown_text() -> None:
    plain, escaped = delete_tool(description="Delete."), delete_tool(description="Delete.\x1b[8m")
    assert tool_info(plain, "a").fingerprint == "a"  # what the probe hands ToolInfo is what it reports
    assert tool_print(plain, same).fingerprint != tool_print(escaped, same).fingerprint
    shown = tool_print(escaped, same).shown["description"]
    assert "\x1b" not in shown  # kept for a diff, so made safe like any server text


def test_shown_values_are_redacted_before_they_are_stored() -> None:
    printed = tool_print(delete_tool(description="token sk-SECRET here"), lambda t: t.replace("sk-SECRET", "***"))
    assert printed.shown["description"] == "token *** here"


def test_a_toolset_survives_its_json_and_bad_json_reads_as_no_tools() -> None:
    listed = tools(delete_tool(), delete_tool(name="search"))
    again = ToolSet.from_json(listed.to_json())
    assert again.fingerprint == listed.fingerprint and set(again.tools) == {"delete_records", "search"}
    assert len(ToolSet.from_json("not json")) == 0 and len(ToolSet.from_json("[1]")) == 0


def test_first_sight_pins_then_a_change_is_pending_until_approved(tmp_path) -> None:
    store = PinStore(tmp_path / "history.db")
    base, changed = tools(delete_tool()), tools(delete_tool(annotations=ToolAnnotations(destructive_hint=False)))
    first = store.observe("db", base, 100.0)
    assert first.first_sight and not first.pending
    again = store.observe("db", base, 110.0)
    assert not again.first_sight and not again.pending
    pending = store.observe("db", changed, 120.0)
    assert pending.pending and pending.diff().changed == (("delete_records", ("annotations.destructiveHint",)),)
    # Another process (a second connection) sees the same pin, and approves it.
    other = PinStore(tmp_path / "history.db")
    assert other.get("db") == pending
    assert other.approve("db", 130.0, expected="not what was seen") is None
    approved = other.approve("db", 130.0, expected=changed.fingerprint)
    assert approved is not None and not approved.pending and approved.approved_at == 130.0
    assert store.approved_fingerprint("db") == changed.fingerprint
    assert not store.observe("db", changed, 140.0).pending
    assert store.approve("nobody", 150.0) is None and store.services() == ["db"]
    store.close()
    other.close()


def test_two_processes_seeing_a_new_service_at_once_agree_on_one_pin(tmp_path) -> None:
    path = tmp_path / "history.db"
    listings = [tools(delete_tool(description=f"variant {i}")) for i in range(4)]
    records = []

    def observe(i: int) -> None:
        store = PinStore(path)
        records.append(store.observe("db", listings[i], float(i)))
        store.close()

    threads = [threading.Thread(target=observe, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(record.first_sight for record in records) == 1
    assert len({record.approved_fingerprint for record in records}) == 1


def test_pins_live_in_the_history_file_beside_a_recorder(tmp_path) -> None:
    path = tmp_path / "history.db"
    history = open_history(path)  # the recording process holds the lock; pins do not need it
    try:
        store = PinStore(path)
        assert store.observe("db", tools(delete_tool()), 1.0).first_sight
        store.close()
    finally:
        history.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT service FROM tool_pins").fetchall() == [("db",)]
    assert DDL.count("-- tool pins") == 1


def test_an_unreadable_file_is_an_error_the_caller_reports(tmp_path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        PinStore(path).get("db")


def test_every_declared_capability_is_listed() -> None:
    caps = ServerCapabilities.model_validate(
        {
            "tools": {"listChanged": True},
            "logging": {},
            "completions": {},
            "experimental": {"x-thing": {}},
            "extensions": {"io.example/ui": {}},
            "tasks": {"list": {}},
        }
    )
    assert declared_capabilities(caps) == ("tools", "logging", "completions", "experimental", "extensions", "tasks")
    assert declared_capabilities(ServerCapabilities()) == ()


def test_context_is_counted_on_the_text_a_model_sees_not_json_escapes() -> None:
    japanese = "レコードを検索します。"
    tool = ToolInfo("search", japanese, {"type": "object"})
    assert japanese in tool.context_text
    ascii_twin = ToolInfo("search", "x" * len(japanese), {"type": "object"})
    assert tool.context_chars == ascii_twin.context_chars  # each character counts once, whatever its script
    details = McpDetails(tools=(tool,))
    assert details.safe(same).tools[0].context_chars == tool.context_chars


def test_an_attached_monitor_reads_the_pin_and_its_changes_back() -> None:
    import dataclasses

    from core.details import ToolChange
    from core.serve.client import _mcp_details

    details = McpDetails(
        pin="changed",
        tools_fingerprint="f" * 32,
        tool_changes=(ToolChange("t", "changed", "annotations.destructiveHint", "true", "false"),),
    )
    assert _mcp_details(json_round_trip(dataclasses.asdict(details))) == details


def json_round_trip(value: object) -> object:
    import json

    return json.loads(json.dumps(value))
