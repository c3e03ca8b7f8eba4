"""Records per second of the importers and characters per second of the redactor,
written to benchmarks/results/importers.json.

    .venv/bin/python benchmarks/importers.py [--repeat 3]

Reads the demo files (Bitext CSV, ABCD conversations and guidelines) with redaction
on and off, and redacts adversarial text: long digit runs and number lists, where a
careless phone regex backtracks for seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from knowledge.importers import read_records
from knowledge.redact import Redactor

DEMO = Path(__file__).parent.parent / "demo"
RESULTS = Path(__file__).parent / "results" / "importers.json"
FILES = [
    DEMO / "bitext" / "records.csv", DEMO / "abcd" / "abcd_sample.json", DEMO / "abcd" / "guidelines.json",
]
ADVERSARIAL = {
    "digit_run_5000": "7" * 5000,
    "digit_runs_60x100": " ".join(["1" * 60 + "a"] * 100),
    "number_list_3000": " ".join(["123"] * 3000),
    "dashed_2000": "12-" * 2000,
}


def best_of(repeat: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result: dict[str, object] = {"machine": platform.processor() or platform.machine(), "files": {}}
    for path in FILES:
        count = sum(1 for _ in read_records(path))
        on = best_of(args.repeat, lambda p=path: list(read_records(p)))
        off = best_of(args.repeat, lambda p=path: list(read_records(p, redact=False)))
        result["files"][path.name] = {  # type: ignore[index]
            "records": count, "records_per_s": round(count / on, 1),
            "records_per_s_without_redaction": round(count / off, 1),
        }
    redactor = Redactor()
    texts = [line for line in (DEMO / "bitext" / "records.csv").read_text().splitlines() if line]
    chars = sum(len(t) for t in texts)
    seconds = best_of(args.repeat, lambda: [redactor.redact(t) for t in texts])
    result["redact_chars_per_s"] = round(chars / seconds)
    result["adversarial_ms"] = {
        name: round(1000 * best_of(args.repeat, lambda t=text: redactor.redact(t)), 2)
        for name, text in ADVERSARIAL.items()
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
