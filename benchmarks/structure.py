"""The shape of the code: what a reader of the three packages meets, for one or two checkouts.

    .venv/bin/python benchmarks/structure.py [--tree DIR ...] [--out FILE]

For each checkout (default: this one; `git worktree add /tmp/before <commit>` gives
another): modules and lines per package, the longest functions, how often `Any`
appears, the import arrows that point the wrong way (channels -> assistant ->
knowledge is the only direction), and the project modules a customer's message
runs code in on its way to the answer. That last figure is measured, not read: the
real app (extractive model, SQLite, a small real knowledge base) answers one
message on /ws/chat while a profiler records which modules of the three packages
run, from the frame's arrival to the `answer` frame leaving.
Writes benchmarks/results/structure.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
PACKAGES = ("knowledge", "assistant", "channels")
LAYER = {name: i for i, name in enumerate(PACKAGES)}  # an import may only point to a lower layer
RESULTS = Path(__file__).parent / "results" / "structure.json"


def static_figures(tree: Path) -> dict[str, Any]:
    packages: dict[str, dict[str, int]] = {}
    functions: list[tuple[int, str]] = []
    any_count = 0
    wrong: list[str] = []
    for package in PACKAGES:
        files = sorted((tree / package).rglob("*.py"))
        lines = 0
        for path in files:
            text = path.read_text()
            lines += len(text.splitlines())
            module = ast.parse(text)
            name = ".".join(path.relative_to(tree).with_suffix("").parts)
            for node in ast.walk(module):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    functions.append((node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))  # type: ignore[operator]
                elif _is_any(node):
                    any_count += 1
            wrong += [f"{name} -> {target}" for target in _imports(module)
                      if target.split(".")[0] in LAYER and LAYER[target.split(".")[0]] > LAYER[package]
                      and name != "assistant.__main__"]
        packages[package] = {"modules": len(files), "lines": lines}
    functions.sort(reverse=True)
    return {"packages": packages, "longest_functions": [f"{n} lines: {f}" for n, f in functions[:5]],
            "function_lines_median": sorted(n for n, _ in functions)[len(functions) // 2],
            "any": any_count, "wrong_way_imports": sorted(set(wrong))}


def _is_any(node: ast.AST) -> bool:
    """`Any` or `typing.Any`."""
    return ((isinstance(node, ast.Name) and node.id == "Any")
            or (isinstance(node, ast.Attribute) and node.attr == "Any"))


def _imports(module: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return found


# The message path runs inside the checkout, in its own interpreter.
_TRACE = r'''
import asyncio, json, os, sys, threading
from pathlib import Path
tree = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(tree))
recording = False
seen = set()
roots = tuple(str(tree / p) + os.sep for p in ("knowledge", "assistant", "channels"))

def profile(frame, event, arg):
    if recording and event == "call":
        path = frame.f_code.co_filename
        if path.startswith(roots):
            seen.add(os.path.relpath(path, tree))

sys.setprofile(profile)
threading.setprofile(profile)

from assistant.runtime import build_runtime
from assistant.settings import load_settings
from channels.app import create_app


async def main():
    global recording
    settings = load_settings(tree / "config.toml", data_dir=sys.argv[2])
    app = create_app(settings, build_runtime)
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    scope = {"type": "websocket", "path": "/ws/chat", "raw_path": b"/ws/chat", "query_string": b"",
             "headers": [], "scheme": "ws", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5),
             "subprotocols": [], "app": app, "root_path": ""}
    async with app.router.lifespan_context(app):
        # the lifespan of FastAPI sets app.state through the router: run it as uvicorn would
        socket = asyncio.create_task(app(scope, inbox.get, outbox.put))
        await inbox.put({"type": "websocket.connect"})
        async def frame(kind):
            while True:
                sent = await asyncio.wait_for(outbox.get(), 120)
                if sent.get("type") == "websocket.send":
                    data = json.loads(sent["text"])
                    if data.get("type") == kind:
                        return data
        await inbox.put({"type": "websocket.receive", "text": json.dumps({"type": "hello"})})
        await frame("ready")
        for warm in ("hello there", "where is my order?"):  # first-use loading is not the path
            await inbox.put({"type": "websocket.receive", "text": json.dumps(
                {"type": "message", "text": warm, "client_msg_id": warm})})
            await frame("answer")
        recording = True
        await inbox.put({"type": "websocket.receive", "text": json.dumps(
            {"type": "message", "text": "I want to cancel order 4711, how do I do it?",
             "client_msg_id": "traced"})})
        await frame("answer")
        recording = False
        await inbox.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(socket, 30)
    print(json.dumps(sorted(seen)))

asyncio.run(main())
'''


def message_path(tree: Path) -> list[str]:
    """Project modules that run code while one message is answered (see the docstring)."""
    import csv
    import os

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update({"ASSISTANT_LLM__BACKEND": "extractive", "ASSISTANT_LOG_LEVEL": "warning",
                    "ASSISTANT_DATA_DIR": str(data)})
        with (ROOT / "demo" / "bitext" / "records.csv").open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["intent"] in ("cancel_order", "track_order")][:40]
        records = Path(tmp) / "records.csv"
        with records.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        subprocess.run([sys.executable, "-m", "assistant", "kb", "ingest", str(records)], cwd=tree,
                       env=env, check=True, capture_output=True, timeout=600)
        script = Path(tmp) / "trace.py"
        script.write_text(_TRACE)
        done = subprocess.run([sys.executable, str(script), str(tree), str(data)], cwd=tree, env=env,
                              check=True, capture_output=True, text=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", type=Path, nargs="+", default=[ROOT], help="checkouts to measure")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    results = {}
    for tree in args.tree:
        figures = static_figures(tree)
        path = message_path(tree)
        figures["message_path"] = {"modules": len(path), "per_package": {
            pkg: sum(1 for m in path if m.startswith(pkg + "/")) for pkg in PACKAGES}, "list": path}
        label = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                               capture_output=True, text=True).stdout.strip() or str(tree)
        results[label] = figures
        print(label, json.dumps({k: v for k, v in figures.items() if k != "message_path"}, indent=1))
        print(f"  message path: {len(path)} modules")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
