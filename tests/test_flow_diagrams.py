"""docs/flows.md is generated from the conversations' step tables (scripts/flows.py) and kept up
to date; each diagram shows every step, every step the table can go to, and an end."""
from __future__ import annotations

import importlib.util
import re
from collections import deque
from pathlib import Path

import pytest

import conversations
from bot.core.replies import Text
from conversations.engine import Flow, Step, branch

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("flows_script", ROOT / "scripts" / "flows.py")
flows_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(flows_script)

FLOWS = sorted(conversations.registry().values(), key=lambda f: f.name)
STATE = re.compile(r'^    state "([^"]+)" as (\S+)$')
EDGE = re.compile(r"^    (\S+) --> (\S+)(?: : (.+))?$")
END = "[*]"


def parse(source: str) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    """(state id -> step name, [(from id, to id, label)]) of a Mermaid state diagram; any other
    line fails the test."""
    lines = source.splitlines()
    assert lines[0] == "stateDiagram-v2"
    states: dict[str, str] = {}
    edges: list[tuple[str, str, str | None]] = []
    for line in lines[1:]:
        if m := STATE.match(line):
            assert m[2] not in states, f"state id {m[2]} declared twice"
            states[m[2]] = m[1]
        elif m := EDGE.match(line):
            edges.append((m[1], m[2], m[3]))
        else:
            pytest.fail(f"unexpected line in a diagram: {line!r}")
    return states, edges


def committed_diagrams() -> dict[str, str]:
    """The Mermaid block under each flow's heading in docs/flows.md."""
    text = flows_script.OUT.read_text(encoding="utf-8")
    return dict(re.findall(r"^## (\S+)\n.*?```mermaid\n(.*?)\n```", text, re.S | re.M))


def test_docs_flows_md_is_up_to_date():
    assert flows_script.OUT.exists(), "run: python scripts/flows.py write"
    assert flows_script.OUT.read_text(encoding="utf-8") == flows_script.render(), (
        "docs/flows.md is out of date with conversations/: run python scripts/flows.py write")


def test_every_registered_flow_has_exactly_one_diagram():
    assert sorted(committed_diagrams()) == [f.name for f in FLOWS]


@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
def test_diagram_shows_every_step_and_every_way_on_and_reaches_an_end(flow: Flow):
    states, edges = parse(flows_script.diagram(flow))
    assert sorted(states.values()) == sorted(flow.steps), f"{flow.name}: the states are not the steps"
    ids = {name: ident for ident, name in states.items()}
    for a, b, _ in edges:
        assert a in states or (a == END and b == ids[flow.first]), f"{flow.name}: edge from unknown {a}"
        assert b in states or b == END, f"{flow.name}: edge to unknown {b}"
    assert [b for a, b, _ in edges if a == END] == [ids[flow.first]], f"{flow.name}: one start, at `first`"
    # Each step's arrows are exactly the steps its `next` can lead to (None: the end).
    for name, step in flow.steps.items():
        drawn = {None if b == END else states[b] for a, b, _ in edges if a == ids[name]}
        assert drawn == step.next_steps(), f"{flow.name}.{name}: drawn {drawn}, table {step.next_steps()}"
    # From the start every step is reached, and from every step an end.
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges:
        graph.setdefault(a, set()).add(b)
    seen, queue = {END}, deque([END])
    ends = False
    while queue:
        for b in graph.get(queue.popleft(), ()):
            if b == END:
                ends = True
            elif b not in seen:
                seen.add(b)
                queue.append(b)
    assert ends, f"{flow.name}: the diagram never reaches an end"
    assert seen - {END} == set(states), f"{flow.name}: steps not reached from the start"
    for start in states:
        reach, queue = {start}, deque([start])
        while queue:
            for b in graph.get(queue.popleft(), ()):
                if b not in reach:
                    reach.add(b)
                    queue.append(b)
        assert END in reach, f"{flow.name}.{states[start]} never reaches an end"


def test_branch_labels_name_the_key_and_values_and_keywords_are_safe_state_ids():
    def later(data: dict) -> str | None:  # a hand-written `next` that declares its targets
        return "end" if data.get("x") else None

    later.targets = ("end", None)  # type: ignore[attr-defined]
    flow = Flow(name="demo", first="pick", on_finish=lambda ctx, data: [Text("ok")], steps={
        "pick": Step(ask="?", next={"a": "note", "b": "note", "c": None}),  # a mapping of this step's answer
        "note": Step(ask="?", store="kind", next=branch({"x": "end", "y": None}, "pick")),
        "end": Step(ask="?", next=later),
    })
    assert flows_script.diagram(flow).splitlines() == [
        "stateDiagram-v2",
        '    state "pick" as s_pick',
        '    state "note" as s_note',
        '    state "end" as s_end',
        "    [*] --> s_pick",
        "    s_pick --> s_note : pick = a or b",
        "    s_pick --> [*] : pick = c",
        "    s_note --> s_end : pick = x",
        "    s_note --> [*] : pick = y",
        "    s_end --> s_end : later()",
        "    s_end --> [*] : later()",
    ]


def test_check_fails_on_a_stale_file_and_passes_once_written(tmp_path, capsys):
    out = tmp_path / "flows.md"
    assert flows_script.main(["flows.py", "check"], out) == 1  # missing
    out.write_text(flows_script.render().replace("stateDiagram-v2", "stateDiagram", 1), encoding="utf-8")
    assert flows_script.main(["flows.py", "check"], out) == 1  # edited by hand
    assert "python scripts/flows.py write" in capsys.readouterr().err
    assert flows_script.main(["flows.py", "write"], out) == 0
    assert flows_script.main(["flows.py", "check"], out) == 0
    assert flows_script.main(["flows.py"], out) == 2
