"""Concurrent customers against `assistant serve`, next to a bare websockets server.

    .venv/bin/python benchmarks/load.py [--n 50 200 500] [--turns 3] [--think 1 5]
        [--sync full normal] [--model fixed|25] [--baseline DIR] [--set ASSISTANT_X=Y ...]

Each of N connections says hello and holds a short conversation (`--turns`
messages; after each answer the customer "reads and types" for `--think`
seconds, jittered ±50%) against the real server in a subprocess (SQLite store,
fresh per run; a small ingested knowledge base). The model is the `fixed`
stand-in, a fixed answer streamed without delay, or with `--model 25` a
stand-in model server streaming it at 25 tokens a second through the `openai`
backend, as vLLM would: then every token is its own durable delta, as with a
real model. The clients run here, in another process. The same workload then
runs against a bare `websockets` server streaming the same frames from memory
(paced the same way): the ceiling of the stack.

Think time decides what is measured. With 1 s, 200 customers ask for ~140
turns a second and 500 for ~360: more retrieval than two cores can do (6-8 ms
of server CPU a turn even with questions searched together), so the server
is at or past saturation and time to first delta is mostly queueing.
With 5 s (the default second setting; people read an answer and type) the same
200 customers ask for ~35 turns a second and the figures show the latency the
server adds. Both are reported.

`--baseline DIR` runs the same workloads against a server started from another
checkout of the project (say `git archive <commit> | tar -x -C DIR`), right
after each run of this one: a before/after comparison on the same machine in
the same minutes. The 1-minute load average before each run is recorded: on a
shared machine, compare runs of similar load.

Reports turns per second, time to first delta (p50, p99; all of it is added by
the server, the model takes no time), handoffs (a request read as asking for a person is
handed over: that customer's conversation ends there, as a real one would wait for a person),
errors, the server's CPU time per turn
and memory; writes
benchmarks/results/load.json. Loopback only; every run is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))

from benchmarks.load_clients import ANSWER_WORDS, bare_server, paced_model_server, run_clients  # noqa: E402

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results" / "load.json"


@dataclass(frozen=True)
class Variant:
    server: str  # label in the results
    sync: str = ""  # store.sqlite_synchronous; "" = the bare websockets server
    tree: Path = ROOT  # checkout whose `assistant serve` runs


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


# -- the servers as subprocesses ---------------------------------------------------

def server_env(data_dir: Path, sync: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    # The guard judges text against references; the stand-in's text has none, and the load test
    # measures the server's own cost, so it streams the stand-in's words unjudged.
    env.update({"ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_LLM__BACKEND": "fixed",
                "ASSISTANT_DIALOGUE__GROUNDING": "off",
                "ASSISTANT_STORE__SQLITE_SYNCHRONOUS": sync, "ASSISTANT_LOG_LEVEL": "warning",
                # Every client is 127.0.0.1 here: the per-IP limit would stop the benchmark.
                "ASSISTANT_SERVER__MESSAGES_PER_MINUTE_IP": "10000000",
                "ASSISTANT_DIALOGUE__LOW_CONFIDENCE_TURNS": "1000", **(extra or {})})
    return env


def ingest_small_kb(data_dir: Path, env: dict[str, str]) -> list[str]:
    """40 records of two intents into the server's knowledge base; the customers ask the
    other requests of those intents (real, varied wording, none of them ingested), so
    no cache or batch sees the same question twice by construction."""
    import csv

    with (ROOT / "demo" / "bitext" / "records.csv").open(newline="") as f:
        pool = [r for r in csv.DictReader(f) if r["intent"] in ("cancel_order", "track_order")]
    rows, asked = pool[:40], sorted({r["instruction"] for r in pool[40:]})
    path = data_dir.parent / "records.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    subprocess.run([sys.executable, "-m", "assistant", "kb", "ingest", str(path)], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=600)
    return asked


def start(cmd: list[str], env: dict[str, str], port: int, path: str, cwd: Path) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far: steadier than latency on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def launch(variant: Variant, data_dir: Path, extra: dict[str, str], run: int,
           tokens_per_s: float) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    if not variant.sync:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(port), str(tokens_per_s)]
        return start(cmd, dict(os.environ), port, "/", ROOT), port
    # A fresh conversation database per run: every run starts from the same state.
    env = server_env(data_dir, variant.sync,
                     {"ASSISTANT_STORE__URL": f"sqlite:///{data_dir / f'load-{run}.db'}", **extra})
    cmd = [sys.executable, "-m", "assistant", "serve", "--port", str(port)]
    return start(cmd, env, port, "/readyz", variant.tree), port


def measure(variant: Variant, n: int, think: float, args: argparse.Namespace, data_dir: Path,
            run: int) -> dict[str, Any]:
    proc, port = launch(variant, data_dir, args.set, run, args.tokens_per_s)
    try:
        # One conversation first: the embedder and Chroma load on the first search, and a
        # running deployment is warm.
        asyncio.run(run_clients(f"ws://127.0.0.1:{port}/ws/chat", 1, 1, 0.0, args.questions))
        before = memory_mb(proc.pid)["rss_mb"]
        load, cpu = os.getloadavg()[0], cpu_seconds(proc.pid)
        result = asyncio.run(run_clients(f"ws://127.0.0.1:{port}/ws/chat", n, args.turns, think,
                                         args.questions))
        cpu = cpu_seconds(proc.pid) - cpu
        result.update(server=variant.server, loadavg_1m=round(load, 2), server_cpu_s=round(cpu, 2),
                      server_cpu_ms_per_turn=round(1000 * cpu / max(result["turns"], 1), 1),
                      idle_rss_mb=before, **memory_mb(proc.pid))
        return result
    finally:
        stop(proc)


def variants(args: argparse.Namespace) -> list[Variant]:
    ours = [Variant(f"assistant ({s})", s) for s in args.sync]
    if args.baseline is None:
        return [*ours, Variant("bare websockets")]
    label = args.baseline_label or args.baseline.name
    theirs = [Variant(f"assistant ({s}) {label}", s, args.baseline.resolve()) for s in args.sync]
    paired = [v for pair in zip(theirs, ours, strict=True) for v in pair]  # before, after, ...
    return [*paired, Variant("bare websockets")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[50, 200, 500], help="concurrent connections")
    p.add_argument("--turns", type=int, default=3, help="messages per conversation")
    p.add_argument("--think", type=float, nargs="+", default=[1.0, 5.0],
                   help="seconds a customer takes between an answer and the next message (each value is "
                        "a separate set of runs; 1 saturates two cores at 200 customers, 5 does not)")
    p.add_argument("--sync", choices=["full", "normal"], nargs="+", default=["full", "normal"],
                   help="store.sqlite_synchronous settings to run the assistant with")
    p.add_argument("--baseline", type=Path, default=None,
                   help="another checkout of the project to run the same workloads against")
    p.add_argument("--baseline-label", default="", help="how the baseline is named in the results")
    p.add_argument("--set", nargs="*", default=[], metavar="ASSISTANT_X=Y",
                   help="extra environment for the assistant servers (both, with --baseline)")
    p.add_argument("--model", default="fixed", metavar="fixed|TOKENS_PER_S",
                   help="fixed: the answer at once (llm.backend fixed); a number: the paced stand-in "
                        "model streaming that many tokens a second (llm.backend openai)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--bare-server", type=float, nargs=2, default=None, help=argparse.SUPPRESS)
    p.add_argument("--model-server", type=float, nargs=2, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.set = dict(kv.split("=", 1) for kv in args.set)
    args.tokens_per_s = 0.0 if args.model == "fixed" else float(args.model)
    fds = raise_fd_limit()
    if args.bare_server is not None:
        asyncio.run(bare_server(int(args.bare_server[0]), args.bare_server[1]))
        return
    if args.model_server is not None:
        asyncio.run(paced_model_server(int(args.model_server[0]), args.model_server[1]))
        return
    model = start_model(args) if args.tokens_per_s else None
    try:
        rows = run_all(args)
    finally:
        if model is not None:
            stop(model)
    report(rows, args, fds)


def start_model(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """The paced model server, shared by every run; the assistant reaches it as llm.backend openai."""
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--model-server", str(port), str(args.tokens_per_s)]
    proc = start(cmd, dict(os.environ), port, "/", ROOT)
    args.set = {"ASSISTANT_LLM__BACKEND": "openai", "ASSISTANT_LLM__OPENAI__MODEL": "paced",
                "ASSISTANT_LLM__OPENAI__BASE_URL": f"http://127.0.0.1:{port}/v1", **args.set}
    return proc


def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        args.questions = ingest_small_kb(data_dir, server_env(data_dir, "full"))
        for think in args.think:
            for n in args.n:
                for variant in variants(args):
                    print(f"{variant.server}: {n} connections, think {think} s ...", file=sys.stderr,
                          flush=True)
                    rows.append(measure(variant, n, think, args, data_dir, len(rows)))
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace, fds: int) -> None:
    print(f"{'server':<34} {'conns':>5} {'think':>5} {'turns/s':>8} {'ttfd p50':>9} {'ttfd p99':>9} "
          f"{'handoffs':>8} {'errors':>6} {'cpu/turn':>8} {'rss MB':>7} {'load':>5}")
    for r in rows:
        print(f"{r['server']:<34} {r['connections']:>5} {r['think_s']:>5} {r['turns_per_s']:>8} "
              f"{r['ttfd_p50_ms']:>7}ms {r['ttfd_p99_ms']:>7}ms {r.get('handoffs', 0):>8} {r['errors']:>6} "
              f"{r['server_cpu_ms_per_turn']:>6}ms {r['rss_mb']:>7} {r['loadavg_1m']:>5}")
    ratios: dict[str, Any] = {}
    for r in rows:
        if r["server"] == "bare websockets":
            continue
        bare = next(b for b in rows if b["server"] == "bare websockets"
                    and (b["connections"], b["think_s"]) == (r["connections"], r["think_s"]))
        key = f"{r['server']} n={r['connections']} think={r['think_s']}"
        ratios[key] = {"ttfd_p50_added_ms": round(r["ttfd_p50_ms"] - bare["ttfd_p50_ms"], 1),
                       "ttfd_p99_added_ms": round(r["ttfd_p99_ms"] - bare["ttfd_p99_ms"], 1),
                       "ttfd_p50_x": round(r["ttfd_p50_ms"] / max(bare["ttfd_p50_ms"], 0.01), 1),
                       "ttfd_p99_x": round(r["ttfd_p99_ms"] / max(bare["ttfd_p99_ms"], 0.01), 1),
                       "turns_per_s_ratio": round(r["turns_per_s"] / max(bare["turns_per_s"], 0.01), 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "nofile": fds},
        "workload": {"turns": args.turns, "think_s": args.think, "think_jitter": "x0.5-1.5",
                     "store": "sqlite, fresh per run", "answer_deltas": ANSWER_WORDS,
                     "model": "fixed (no delay)" if not args.tokens_per_s else
                     f"paced stand-in, {args.tokens_per_s:g} tokens/s (llm.backend openai)",
                     "baseline": args.baseline_label or None,
                     "server_env": args.set},
        "runs": rows, "ratios_to_bare": ratios}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
