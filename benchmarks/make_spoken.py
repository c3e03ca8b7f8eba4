"""Speak part of the realistic set: benchmarks/data/spoken/*.{wav,ogg,webm} and spoken.jsonl.

    .venv/bin/python benchmarks/make_spoken.py [--count 48]

A seeded choice (not a hand-picked one) of `request`, `lookalike` and `handoff`
messages of benchmarks/data/realistic.jsonl, each spoken by espeak-ng with one of
several English voices and speeds and stored the way customers send voice notes
(wav, ogg/opus, webm/opus). spoken.jsonl is an `assistant eval` cases file: the
clip as `audio`, the words spoken as `said` (for reading, not sent), the same
`expect`. The clips are committed, so runs compare; rerun only to change the set.
Needs espeak-ng (scripts/system-deps.sh).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from assistant.speech.synth import speak  # noqa: E402

DATA = Path(__file__).parent / "data"
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd"]
SPEEDS = [135, 150, 165, 180]
FORMATS = ["webm", "ogg", "wav"]
SEED = 29


def spoken_words(text: str) -> str:
    """What a customer would say: no emoji or markup, symbols read out as words."""
    text = re.sub(r"[^\w\s.,?!'$%@#&/-]", " ", text)
    return " ".join(text.replace("&", " and ").split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=48)
    args = parser.parse_args()
    rows = [json.loads(line) for line in (DATA / "realistic.jsonl").read_text(encoding="utf-8").splitlines()]
    pool = [r for r in rows if r["kind"] in ("request", "lookalike", "handoff")]
    chosen = sorted(random.Random(SEED).sample(pool, args.count), key=lambda r: r["id"])
    out = DATA / "spoken"
    out.mkdir(exist_ok=True)
    cases = []
    for i, row in enumerate(chosen):
        voice, speed, fmt = VOICES[i % len(VOICES)], SPEEDS[i % len(SPEEDS)], FORMATS[i % len(FORMATS)]
        said = spoken_words(row["text"])
        name = f"{row['id']}.{fmt}"
        (out / name).write_bytes(speak(said, fmt, voice=voice, speed=speed))
        cases.append({"id": f"{row['id']}-voice", "audio": f"spoken/{name}", "said": said,
                      "voice": voice, "speed": speed, "expect": row["expect"], "kind": row["kind"]})
    with (DATA / "spoken.jsonl").open("w", encoding="utf-8") as f:
        for case in cases:
            f.write(json.dumps(case) + "\n")
    print(f"{len(cases)} clips in {out}")


if __name__ == "__main__":
    main()
