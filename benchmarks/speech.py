"""Speed and accuracy of speech-to-text, written to benchmarks/results/speech.json.

    .venv/bin/python benchmarks/speech.py [--clips 40] [--data-dir DIR] [--only NAME ...]

For each backend, model and lever: the real-time factor (seconds of work per second
of audio, decoding included, model loaded beforehand) on jfk.flac and on espeak-ng
webm/opus clips of held-out Bitext requests (benchmarks/common.py's seeded split,
then a seeded choice); the word error rate against the spoken text (Whisper's
English normaliser on both sides); and hit@1, the share of clips whose transcript
retrieves a record of the right intent first, next to the same for the typed text.
The knowledge base holds the other Bitext records. Figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import SEED, bitext_split  # noqa: E402

from assistant.errors import AssistantError  # noqa: E402
from assistant.speech.audio import decode  # noqa: E402
from assistant.speech.faster import FasterWhisperTranscriber  # noqa: E402
from assistant.speech.openai_whisper import OpenAIWhisperTranscriber  # noqa: E402
from assistant.speech.options import WhisperOptions  # noqa: E402
from assistant.speech.synth import speak  # noqa: E402
from assistant.speech.vocabulary import kb_vocabulary, prompt_for  # noqa: E402

ROOT = Path(__file__).parent.parent
JFK = ROOT / "tests" / "data" / "audio" / "jfk.flac"
RESULTS = Path(__file__).parent / "results" / "speech.json"
PLACEHOLDER = re.compile(r"\{\{([^}]*)\}\}")


@dataclass(frozen=True)
class Run:
    name: str
    backend: str  # faster-whisper | openai-whisper | stock (faster-whisper's own detection)
    options: WhisperOptions
    kb_vocabulary: bool = False  # prime Whisper with words from the knowledge base
    notes: str = ""


def runs() -> list[Run]:
    base = WhisperOptions(model="base", threads=2)  # the shipped default: beam 5, detected, trimmed
    en = replace(base, language="en")
    full = replace(base, trim_window=False)
    return [
        Run("faster base (default)", "faster-whisper", base, notes="beam 5, language detected, int8"),
        Run("faster base, greedy", "faster-whisper", replace(base, beam_size=1),
            notes="the default until 2026-11"),
        Run("faster base, full window", "faster-whisper", full, notes="Whisper's whole 30 s window"),
        Run("faster base, as shipped", "stock", full,
            notes="faster-whisper's own transcribe: detection encodes again, timestamps on"),
        Run("faster base, en", "faster-whisper", en, notes="language forced"),
        Run("faster base, en, full window", "faster-whisper", replace(en, trim_window=False)),
        Run("faster base, en, timestamps", "faster-whisper", replace(en, timestamps=True)),
        Run("faster base, en, vad", "faster-whisper", replace(en, vad_filter=True)),
        Run("faster base, en, beam 5", "faster-whisper", replace(en, beam_size=5)),
        Run("faster base, en, 1 thread", "faster-whisper", replace(en, threads=1)),
        Run("faster base, KB vocabulary", "faster-whisper", base, kb_vocabulary=True),
        Run("faster base, KB vocabulary, greedy", "faster-whisper", replace(base, beam_size=1),
            kb_vocabulary=True),
        Run("faster base, en, KB vocabulary", "faster-whisper", en, kb_vocabulary=True),
        Run("faster tiny.en", "faster-whisper", replace(en, model="tiny.en")),
        Run("faster tiny.en, beam 5", "faster-whisper", replace(en, model="tiny.en", beam_size=5)),
        Run("faster small", "faster-whisper", replace(base, model="small")),
        Run("openai base", "openai-whisper", base, notes="exported checkpoint, fp32 torch, full window"),
        Run("openai base, en", "openai-whisper", en),
        Run("openai tiny.en", "openai-whisper", replace(en, model="tiny.en")),
    ]


@dataclass
class Clip:
    text: str  # what espeak-ng says (the request, placeholders read as their names)
    intent: str
    audio: bytes
    duration: float = 0.0
    typed_hit: bool = False
    hyps: dict[str, str] = field(default_factory=dict)


def make_clips(held_out: list, n: int) -> list[Clip]:
    chosen = random.Random(SEED).sample(held_out, n)
    clips = []
    for i, record in enumerate(chosen, 1):
        text = " ".join(PLACEHOLDER.sub(lambda m: m.group(1).lower(), record.request).split())
        audio = speak(text, "webm")  # what the widget's MediaRecorder sends
        clips.append(Clip(text, record.intent, audio, decode(audio).duration))
        print(f"\rsynthesising clips {i}/{n}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return clips


def open_kb(kept: list, data_dir: Path) -> Any:
    from assistant.settings import load_settings
    from knowledge.base import KnowledgeBase

    settings = load_settings(ROOT / "config.toml", data_dir=data_dir)
    kb = KnowledgeBase(settings.knowledge, data_dir, settings.company, settings.dialogue.intent_labels,
                       settings.dialogue.intent_examples)
    kb.add_records(kept, progress=lambda done, total: print(
        f"\rindexing {done}/{total}", end="", file=sys.stderr))
    print(file=sys.stderr)
    return kb


def hits(kb: Any, queries: list[str], intents: list[str]) -> float:
    results = kb.search_many(queries, k=1)
    return sum(bool(r) and r[0].record.intent == want for r, want in zip(results, intents, strict=True)) \
        / len(queries)


def transcriber(run: Run, data_dir: Path) -> Any:
    cls = OpenAIWhisperTranscriber if run.backend == "openai-whisper" else FasterWhisperTranscriber
    return cls(run.options, data_dir)


def transcribe(run: Run, engine: Any, audio: bytes, prompt: str | None) -> str:
    if run.backend != "stock":
        return engine.transcribe(audio, prompt=prompt).text
    samples = decode(audio).samples
    segments, _ = engine.load().transcribe(samples, beam_size=run.options.beam_size)
    return " ".join(s.text.strip() for s in segments)


def measure(run: Run, clips: list[Clip], kb: Any, vocab_prompt: str | None,
            data_dir: Path) -> dict[str, Any]:
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    engine = transcriber(run, data_dir)
    started = time.perf_counter()
    try:
        transcribe(run, engine, JFK.read_bytes(), None)  # loads the model (and warms it)
    except AssistantError as exc:
        return {"name": run.name, "skipped": f"{exc.code}: {exc.message}"}
    load_s = time.perf_counter() - started
    prompt = vocab_prompt if run.kb_vocabulary else None
    started = time.perf_counter()
    jfk_text = transcribe(run, engine, JFK.read_bytes(), None)
    jfk_rtf = (time.perf_counter() - started) / 11.0
    work = 0.0
    for i, clip in enumerate(clips, 1):
        started = time.perf_counter()
        clip.hyps[run.name] = transcribe(run, engine, clip.audio, prompt)
        work += time.perf_counter() - started
        print(f"\r{run.name}: {i}/{len(clips)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    norm = EnglishTextNormalizer()
    refs = [norm(c.text) for c in clips]
    hyps = [norm(c.hyps[run.name]) or "<nothing>" for c in clips]
    return {
        "name": run.name, "backend": run.backend, "model": run.options.model,
        "language": run.options.language or "detected", "beam_size": run.options.beam_size,
        "threads": run.options.threads, "timestamps": run.options.timestamps,
        "vad_filter": run.options.vad_filter, "kb_vocabulary": run.kb_vocabulary, "notes": run.notes,
        "load_and_first_s": round(load_s, 2),
        "rtf_jfk": round(jfk_rtf, 3), "jfk_text": jfk_text,
        "rtf_clips": round(work / sum(c.duration for c in clips), 3),
        "wer": round(jiwer.wer(refs, hyps), 4),
        "hit_at_1_spoken": round(hits(kb, [c.hyps[run.name] for c in clips], [c.intent for c in clips]), 4),
    }


def table(results: list[dict[str, Any]], typed: float) -> str:
    lines = [f"{'run':34} {'RTF jfk':>8} {'RTF clips':>9} {'WER':>6} {'hit@1':>6}  (typed hit@1 {typed:.3f})"]
    for r in results:
        if "skipped" in r:
            lines.append(f"{r['name']:34} skipped: {r['skipped']}")
            continue
        lines.append(f"{r['name']:34} {r['rtf_jfk']:8.3f} {r['rtf_clips']:9.3f} {r['wer']:6.3f} "
                     f"{r['hit_at_1_spoken']:6.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=40, help="held-out requests to speak (default 40)")
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse weights and index here")
    parser.add_argument("--only", nargs="*", default=None, help="run names to measure (default: all)")
    parser.add_argument("--out", default=RESULTS.name, help="file name under benchmarks/results/")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="speech-bench-"))
    kept, held_out = bitext_split()
    clips = make_clips(held_out, args.clips)
    kb = open_kb(kept, data_dir)
    typed = hits(kb, [c.text for c in clips], [c.intent for c in clips])
    vocab_prompt = prompt_for(kb_vocabulary(kb))  # what the server primes Whisper with
    chosen = [r for r in runs() if args.only is None or r.name in args.only]
    results = [measure(run, clips, kb, vocab_prompt, data_dir) for run in chosen]
    report = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "clips": len(clips), "clip_seconds": round(sum(c.duration for c in clips), 1),
        "held_out_seed": SEED, "hit_at_1_typed": round(typed, 4), "kb_vocabulary": vocab_prompt,
        "runs": results,
        "misheard": [{"spoken": c.text, **c.hyps} for c in clips
                     if any(h.lower().strip(" .?!") != c.text.lower() for h in c.hyps.values())][:15],
    }
    out = RESULTS.parent / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(table(results, typed))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
