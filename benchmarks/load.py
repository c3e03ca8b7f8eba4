"""Concurrent customers against `assistant serve`, next to a bare websockets server.

    .venv/bin/python benchmarks/load.py [--n 50 200 500] [--turns 3] [--think 1.0] [--sync full]

Each of N connections says hello and holds a short conversation (`--turns`
messages, `--think` seconds apart, jittered), against the real server in a
subprocess (SQLite store, the `fixed` stand-in model: a fixed answer streamed
without delay, a small ingested knowledge base). The clients run here, in
another process. The same workload then runs against a bare `websockets`
server streaming the same frames from memory: the ceiling of the stack.
Reports turns per second, time to first delta (p50, p99; all of it is added by
the server, the model takes no time), errors, the server's memory; writes
benchmarks/results/load.json. Loopback only; every run is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.llm.fake import FixedLLM

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results" / "load.json"
ANSWER_WORDS = len(FixedLLM.ANSWER.split())  # deltas of the stand-in's answer
TURN_TIMEOUT = 60.0


def raise_fd_limit() -> int:
    """500 sockets each side and the server's files need more than a default 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the clients -------------------------------------------------------------------

async def customer(url: str, turns: int, think: float, stats: dict[str, Any]) -> None:
    from websockets.asyncio.client import connect

    await asyncio.sleep(random.uniform(0, think))  # arrivals spread over one think time
    try:
        async with connect(url, max_size=None, open_timeout=30, ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            ready = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if ready.get("type") != "ready":
                raise RuntimeError(f"no ready: {ready}")
            for i in range(turns):
                await one_turn(ws, f"How do I cancel my order? ({i})", f"m{i}", stats)
                await asyncio.sleep(think * random.uniform(0.5, 1.5))
    except Exception as exc:  # counted, never fatal: the run reports errors
        stats["errors"].append(f"{type(exc).__name__}: {exc}"[:200])


async def one_turn(ws: Any, text: str, cmid: str, stats: dict[str, Any]) -> None:
    start = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "text": text, "client_msg_id": cmid}))
    first = None
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TURN_TIMEOUT))
        kind = frame.get("type")
        if kind == "delta" and first is None:
            first = time.perf_counter() - start
        elif kind == "error":
            raise RuntimeError(f"error frame {frame.get('code')}: {frame.get('message')}")
        elif kind == "status" and frame.get("state") != "bot":
            raise RuntimeError(f"handed off: {frame.get('reason')}")
        elif kind == "answer":
            break
    stats["ttfd"].append(first if first is not None else time.perf_counter() - start)
    stats["turn"].append(time.perf_counter() - start)


async def run_clients(url: str, n: int, turns: int, think: float) -> dict[str, Any]:
    stats: dict[str, Any] = {"ttfd": [], "turn": [], "errors": []}
    start = time.perf_counter()
    await asyncio.gather(*(customer(url, turns, think, stats) for _ in range(n)))
    elapsed = time.perf_counter() - start
    ttfd = sorted(stats["ttfd"]) or [float("nan")]
    return {"connections": n, "turns": len(stats["turn"]), "expected_turns": n * turns,
            "seconds": round(elapsed, 2), "turns_per_s": round(len(stats["turn"]) / elapsed, 1),
            "ttfd_p50_ms": round(1000 * statistics.median(ttfd), 1),
            "ttfd_p99_ms": round(1000 * ttfd[min(len(ttfd) - 1, int(0.99 * len(ttfd)))], 1),
            "turn_p50_ms": round(1000 * statistics.median(stats["turn"] or [float("nan")]), 1),
            "errors": len(stats["errors"]), "error_samples": sorted(set(stats["errors"]))[:5]}


# -- the bare websockets server (the ceiling) --------------------------------------

async def bare_server(port: int) -> None:
    from websockets.asyncio.server import serve

    words = [f"w{i} " for i in range(ANSWER_WORDS)]

    async def handler(ws: Any) -> None:
        seq = 0

        async def send(frame: dict[str, Any]) -> None:
            nonlocal seq
            seq += 1
            await ws.send(json.dumps({**frame, "seq": seq, "at": time.time()}))

        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "hello":
                await ws.send(json.dumps({"type": "ready", "conversation_id": "c", "resume_token": "r",
                                          "state": "bot", "last_seq": 0, "resumed": False, "protocol": 1}))
            elif frame["type"] == "message":
                await send({"type": "message", "message_id": "u", "text": frame["text"],
                            "client_msg_id": frame["client_msg_id"], "attachments": [], "user_id": ""})
                await send({"type": "answer_started", "message_id": "a"})
                for word in words:
                    await send({"type": "delta", "message_id": "a", "text": word})
                await send({"type": "answer", "message_id": "a", "text": "".join(words), "sources": [],
                            "interrupted": False})

    async with serve(handler, "127.0.0.1", port, max_size=None, ping_interval=None):
        await asyncio.Future()


# -- the servers as subprocesses ---------------------------------------------------

def server_env(data_dir: Path, sync: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update({"ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_LLM__BACKEND": "fixed",
                "ASSISTANT_STORE__SQLITE_SYNCHRONOUS": sync, "ASSISTANT_LOG_LEVEL": "warning",
                # Every client is 127.0.0.1 here: the per-IP limit would stop the benchmark.
                "ASSISTANT_SERVER__MESSAGES_PER_MINUTE_IP": "10000000",
                "ASSISTANT_DIALOGUE__LOW_CONFIDENCE_TURNS": "1000"})
    return env


def ingest_small_kb(data_dir: Path, env: dict[str, str]) -> None:
    import csv

    with (ROOT / "demo" / "bitext" / "records.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["intent"] in ("cancel_order", "track_order")][:40]
    path = data_dir.parent / "records.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    subprocess.run([sys.executable, "-m", "assistant", "kb", "ingest", str(path)], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=600)


def start(cmd: list[str], env: dict[str, str], port: int, path: str) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            status = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code
            if status == 200 or path != "/readyz":  # the bare server answers plain HTTP with an error
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def memory_mb(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    return {k: round(int(fields[v].split()[0]) / 1024, 1) for k, v in (("rss_mb", "VmRSS"),
                                                                        ("peak_rss_mb", "VmHWM"))}


def measure(kind: str, n: int, args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    port = free_port()
    if kind != "bare":
        cmd = [sys.executable, "-m", "assistant", "serve", "--port", str(port)]
        proc = start(cmd, server_env(data_dir, kind), port, "/readyz")
    else:
        cmd = [sys.executable, __file__, "--bare-server", str(port)]
        proc = start(cmd, dict(os.environ), port, "/")
    try:
        # One conversation first: the embedder and Chroma load on the first search, and a
        # running deployment is warm.
        asyncio.run(run_clients(f"ws://127.0.0.1:{port}/ws/chat", 1, 1, 0.0))
        before = memory_mb(proc.pid)["rss_mb"]
        result = asyncio.run(run_clients(f"ws://127.0.0.1:{port}/ws/chat", n, args.turns, args.think))
        result.update(server=f"assistant ({kind})" if kind != "bare" else "bare websockets",
                      idle_rss_mb=before, **memory_mb(proc.pid))
        return result
    finally:
        stop(proc)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[50, 200, 500], help="concurrent connections")
    p.add_argument("--turns", type=int, default=3, help="messages per conversation")
    p.add_argument("--think", type=float, default=1.0, help="seconds between a customer's messages")
    p.add_argument("--sync", choices=["full", "normal"], nargs="+", default=["full", "normal"],
                   help="store.sqlite_synchronous settings to run the assistant with")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    fds = raise_fd_limit()
    if args.bare_server is not None:
        asyncio.run(bare_server(args.bare_server))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        ingest_small_kb(data_dir, server_env(data_dir, "full"))
        for n in args.n:
            for kind in (*args.sync, "bare"):
                print(f"{kind}: {n} connections ...", file=sys.stderr, flush=True)
                rows.append(measure(kind, n, args, data_dir))
    report(rows, args, fds)


def report(rows: list[dict[str, Any]], args: argparse.Namespace, fds: int) -> None:
    print(f"{'server':<18} {'conns':>5} {'turns/s':>8} {'ttfd p50':>9} {'ttfd p99':>9} {'errors':>6} "
          f"{'rss MB':>7}")
    for r in rows:
        print(f"{r['server']:<18} {r['connections']:>5} {r['turns_per_s']:>8} {r['ttfd_p50_ms']:>7}ms "
              f"{r['ttfd_p99_ms']:>7}ms {r['errors']:>6} {r['rss_mb']:>7}")
    ratios: dict[str, Any] = {}
    for r in rows:
        if r["server"] == "bare websockets":
            continue
        bare = next(b for b in rows if b["server"] == "bare websockets"
                    and b["connections"] == r["connections"])
        key = f"{r['server']} n={r['connections']}"
        ratios[key] = {"ttfd_p50_x": round(r["ttfd_p50_ms"] / max(bare["ttfd_p50_ms"], 0.01), 1),
                       "ttfd_p99_x": round(r["ttfd_p99_ms"] / max(bare["ttfd_p99_ms"], 0.01), 1),
                       "turns_per_s_ratio": round(r["turns_per_s"] / max(bare["turns_per_s"], 0.01), 2)}
        print(f"{key}: time to first delta {ratios[key]['ttfd_p50_x']}x (p50), {ratios[key]['ttfd_p99_x']}x "
              f"(p99) the bare server's; turns/s {ratios[key]['turns_per_s_ratio']} of it")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "nofile": fds},
        "workload": {"turns": args.turns, "think_s": args.think, "store": "sqlite",
                     "answer_deltas": ANSWER_WORDS, "model": "fixed (no delay)"},
        "runs": rows, "ratios": ratios}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
