"""The three packages' imports point one way: channels -> assistant -> knowledge.

Read from the source (every import, including those inside functions and under
TYPE_CHECKING), not from what happens to be loaded: an arrow the wrong way is a
design bug even on a path no test runs. `assistant/__main__.py` is the one
exception: `python -m assistant` starts the command line, which lives on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LAYERS = ("knowledge", "assistant", "channels")  # each may import only the ones before it
ALLOWED = {("assistant.__main__", "channels.cli")}


def modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def wrong_way() -> list[str]:
    rank = {name: i for i, name in enumerate(LAYERS)}
    bad = []
    for name, path in modules().items():
        mine = rank[name.split(".")[0]]
        for target in sorted(imports(path)):
            top = target.split(".")[0]
            allowed = any(name == who and target.startswith(what) for who, what in ALLOWED)
            if top in rank and rank[top] > mine and not allowed:
                bad.append(f"{name} imports {target}")
    return bad


def test_no_import_points_up_a_layer() -> None:
    assert wrong_way() == []


def test_the_check_sees_an_arrow_the_wrong_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself can fail: a knowledge module importing the dialogue manager is caught."""
    fake = tmp_path / "knowledge"
    fake.mkdir()
    (fake / "leak.py").write_text("def f():\n    from assistant.dialogue import DialogueManager\n")
    for package in ("assistant", "channels"):
        (tmp_path / package).mkdir()
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert wrong_way() == ["knowledge.leak imports assistant.dialogue",
                           "knowledge.leak imports assistant.dialogue.DialogueManager"]


def test_modules_import_each_other_without_a_cycle() -> None:
    """Top-level imports between the project's modules form no cycle (imports inside a
    function run later and may close one on purpose)."""
    names = modules()
    graph = {name: {t for t in imports(path, top_level_only=True) if t in names
                    if t != name and not name.startswith(t + ".")}  # a package's own __init__ runs first
             for name, path in names.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(name):], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
