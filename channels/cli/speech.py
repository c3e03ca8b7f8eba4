"""`assistant transcribe FILE`: a voice note to text, as the server would hear it.

Exit codes: 0 transcribed, 2 the audio or the model failed (the message says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import InputError

if TYPE_CHECKING:
    from assistant.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "transcribe", parents=[common], help="transcribe a voice note (wav, flac, ogg, webm, mp3, m4a)",
        description="Print the transcript of an audio file; '-' reads it from stdin.")
    p.add_argument("file", metavar="FILE", help="the audio file, or - for stdin")
    p.add_argument("--json", action="store_true",
                   help="one JSON object: text, language, duration, segments")
    p.add_argument("--language", metavar="XX", default=None,
                   help="force the language (ISO 639-1, e.g. en); default: speech.language or detected")
    p.add_argument("--backend", default=None, help="override speech.backend (faster-whisper, openai-whisper)")
    p.add_argument("--model", default=None, help="override speech.model (base, tiny.en, small, a path)")
    p.set_defaults(handler=cmd_transcribe)


def cmd_transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.speech import TRANSCRIBERS

    audio = _read(args.file)
    speech = settings.speech.model_copy(update={
        k: v for k, v in (("backend", args.backend), ("model", args.model)) if v})
    settings = settings.model_copy(update={"speech": speech})
    transcriber = TRANSCRIBERS.create(speech.backend, settings)
    transcript = transcriber.transcribe(audio, language=args.language)
    if args.json:
        print(json.dumps(transcript.to_json(), ensure_ascii=False))
    else:
        print(transcript.text)
    return 0


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    path = Path(name)
    if not path.is_file():
        raise InputError(f"no such audio file: {path}")
    return path.read_bytes()
