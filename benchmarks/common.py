"""Shared by the benchmarks: the one seeded held-out split of the Bitext records, and the
demo history as `make demo-kb` ingests it.

Every benchmark that measures retrieval on "unseen" requests (retrieval, speech,
dialogue) holds out the same records, so their figures compare. The split goes by
record id (stable across re-imports, independent of row order and skipped rows).
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

SEED = 13
HELD_OUT_SHARE = 0.10
ROOT = Path(__file__).parent.parent
BITEXT = ROOT / "demo" / "bitext" / "records.csv"
DEMO = [BITEXT, ROOT / "demo" / "abcd" / "guidelines.json", ROOT / "demo" / "abcd" / "abcd_sample.json"]

R = TypeVar("R")


def split_records(records: Sequence[R], *, seed: int = SEED,
                  share: float = HELD_OUT_SHARE) -> tuple[list[R], list[R]]:
    """(kept, held_out): a seeded `share` of the records, chosen by id, held out of the index."""
    ordered = sorted(records, key=lambda r: r.id)  # type: ignore[attr-defined]
    held = set(random.Random(seed).sample(range(len(ordered)), round(len(ordered) * share)))
    kept = [r for i, r in enumerate(ordered) if i not in held]
    held_out = [r for i, r in enumerate(ordered) if i in held]
    return kept, held_out


def bitext_split(path: Path = BITEXT, *, seed: int = SEED,
                 share: float = HELD_OUT_SHARE) -> tuple[list, list]:
    """The Bitext records as (indexed, held_out), read and redacted like `kb ingest` does."""
    from knowledge.importers import RowProblem, read_records
    from knowledge.redact import Redactor

    records = [r for r in read_records(path, format="bitext", redactor=Redactor())
               if not isinstance(r, RowProblem)]
    return split_records(records, seed=seed, share=share)


def ingest_demo(data_dir: Path) -> None:
    """The whole demo history into a knowledge base under `data_dir` (`assistant kb ingest`)."""
    subprocess.run([sys.executable, "-m", "assistant", "--data-dir", str(data_dir), "kb", "ingest",
                    *map(str, DEMO)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
