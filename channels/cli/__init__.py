"""The `assistant` command: one entry point, a sub-command per job.

Each sub-command lives in its own module with `register(subparsers, common)`;
its handler gets the parsed args and the loaded Settings and returns an exit code.
Nothing heavy is imported until a handler runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from knowledge.errors import SupportError

# Modules under channels.cli that add sub-commands, in --help order.
COMMAND_MODULES = ["kb", "ask", "speech", "serve", "agents", "chat", "models", "tune", "report"]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $ASSISTANT_CONFIG or ./config.toml)")
    common.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help="where all state lives (default: data_dir in config)")
    parser = argparse.ArgumentParser(
        prog="assistant", parents=[common],
        description="Self-hosted multimodal customer-service assistant.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"channels.cli.{name}").register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from assistant.settings import load_settings

    try:
        settings = load_settings(getattr(args, "config", None),
                                 data_dir=getattr(args, "data_dir", None))
        logging.getLogger().setLevel(settings.log_level.upper())
        return int(args.handler(args, settings) or 0)
    except SupportError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
