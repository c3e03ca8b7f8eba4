"""Which LoRA adapter the local chat model runs with: the newest one `assistant tune` wrote.

`assistant tune` writes each adapter to its own folder under
`<data_dir>/models/chat-adapters/`, built beside it and swapped in whole
(assistant.folders) with its marker file written last, so a half-written adapter is
never seen. `llm.adapter`
chooses:

- "auto" (the default): the newest finished adapter tuned from the configured
  `llm.model`, unless `assistant tune --base` pinned the untuned model;
- "none": the untuned model, always;
- a folder: that adapter (an error if it is not a finished one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import ModelUnavailable
from assistant.folders import write_whole

log = logging.getLogger(__name__)

FOLDER = "chat-adapters"  # under <data_dir>/models/
MARKER = "tuned.json"  # written last: what it was tuned from, when, how long, its losses
USE_BASE = "use-base"  # present: "auto" means the untuned model (assistant tune --base)


def adapters_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models" / FOLDER


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The finished adapter's marker, or None for anything else (half-written, not an adapter)."""
    try:
        return dict(json.loads((folder / MARKER).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def newest(data_dir: Path, base_model: str) -> Path | None:
    """The newest finished adapter under data_dir tuned from base_model."""
    root = adapters_dir(data_dir)
    if not root.is_dir():
        return None
    found: list[tuple[str, Path]] = []
    for folder in root.iterdir():
        marker = read_marker(folder) if folder.is_dir() and not folder.name.startswith(".") else None
        if marker is None:
            continue
        if marker.get("base_model") != base_model:
            log.info("chat adapter %s was tuned from %s, not %s: skipped",
                     folder.name, marker.get("base_model"), base_model)
            continue
        found.append((str(marker.get("created", "")), folder))
    return max(found)[1] if found else None


def choose(setting: str, data_dir: Path, base_model: str) -> Path | None:
    """The adapter folder llm.adapter names for this model, or None for the untuned model."""
    if setting == "none":
        return None
    if setting == "auto":
        if (adapters_dir(data_dir) / USE_BASE).exists():
            return None
        return newest(data_dir, base_model)
    folder = Path(setting)
    if read_marker(folder) is None:
        raise ModelUnavailable(f"llm.adapter: {folder} is not a finished chat adapter "
                               f"(no {MARKER}; write one with: assistant tune)")
    return folder


def use_base(data_dir: Path, on: bool) -> None:
    """Pin (on) or unpin the untuned model for llm.adapter = "auto"."""
    flag = adapters_dir(data_dir) / USE_BASE
    if on:
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.write_text("the assistant runs the untuned chat model: assistant tune --base\n")
    else:
        flag.unlink(missing_ok=True)


def publish(out: Path, write: Callable[[Path], dict[str, Any]]) -> Path:
    """Build the adapter folder with `write(staging)`, add the marker it returns (last), swap it in."""
    def build(staging: Path) -> None:
        marker = write(staging)
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")

    return write_whole(out, build)
