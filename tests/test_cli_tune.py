"""`assistant tune --handoff`: a real (short) fine-tune on a real knowledge base's records."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.handoff_model import PersonClassifier, classifier_folder
from channels.cli import main
from knowledge.base import KnowledgeBase
from knowledge.config import KnowledgeConfig
from knowledge.records import Record

CONFIG = str(Path(__file__).parent.parent / "config.toml")


def tune(data_dir: Path, *args: str) -> int:
    return main(["--config", CONFIG, "--data-dir", str(data_dir), "tune", *args])


def test_tune_mistakes_are_coded_errors(data_dir: Path, capsys) -> None:
    assert tune(data_dir) == 2  # the chat model, with nothing ingested to learn from
    assert "error [no_examples]" in capsys.readouterr().err
    assert tune(data_dir, "--steps", "0") == 2
    assert "error [bad_argument]" in capsys.readouterr().err
    assert tune(data_dir, "--handoff", "--epochs", "0") == 2
    assert "error [bad_argument]" in capsys.readouterr().err


def test_tune_learns_the_history_s_own_requests_for_a_person(data_dir: Path, capsys) -> None:
    records = ([Record(id=f"h{n}", request=f"please have a branch officer ring me back {n}", resolution="ok",
                       intent="contact_human_agent") for n in range(12)]
               + [Record(id=f"b{n}", request=f"what is the balance on account {n}", resolution="ok",
                         intent="check_balance") for n in range(12)])
    with KnowledgeBase(KnowledgeConfig(), data_dir) as kb:
        kb.add_records(records)
    assert tune(data_dir, "--handoff", "--epochs", "1") == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert summary["by_kind"]["knowledge_base"] == 24
    assert summary["out"] == str(data_dir / "models" / "handoff")
    assert "knowledge base: 12 requests for a person (contact_human_agent) and 12 other records" in out.err
    assert "tune handoff:" in out.err  # progress while it trains
    assert classifier_folder(data_dir) == data_dir / "models" / "handoff"  # the assistant now uses it
    assert [p.name for p in (data_dir / "models").iterdir()] == ["handoff"]  # swapped in whole, no leftovers
    p = PersonClassifier(classifier_folder(data_dir)).probabilities(["get me a human", "what's my balance"])
    assert p[0] > 0.5 > p[1]
