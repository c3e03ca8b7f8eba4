"""`assistant models`: prepare model weights for offline use.

`export-whisper` builds the openai-whisper checkpoint from the packaged
CTranslate2 weights (openai-whisper cannot read those, and would download).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.settings import Settings


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    models = subparsers.add_parser("models", parents=[common], help="prepare model weights for offline use",
                                   description="Prepare model weights for offline use.")
    sub = models.add_subparsers(dest="models_command", metavar="COMMAND", required=True)
    p = sub.add_parser(
        "export-whisper", parents=[common], help="build an openai-whisper checkpoint from packaged weights",
        description="Convert packaged (CTranslate2) Whisper weights into a checkpoint that "
                    "whisper.load_model(PATH) reads, for speech.backend = \"openai-whisper\".")
    p.add_argument("--model", default="base",
                   help="base, tiny.en, small (packaged) or a CTranslate2 folder (default: base)")
    p.add_argument("--out", type=Path, default=None, metavar="PATH",
                   help="where to write it (default: <data_dir>/models/whisper-<model>-openai.pt)")
    p.set_defaults(handler=cmd_export_whisper)


def cmd_export_whisper(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.speech.export import export_whisper

    path = export_whisper(args.model, settings.data_dir, args.out)
    print(path)
    return 0
