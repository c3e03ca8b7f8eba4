"""`assistant kb …` end to end: real files, real Chroma under a temp data dir, real weights."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from kb_data import bitext_rows, write_csv

from channels.cli import main

pytestmark = pytest.mark.model

CONFIG = Path(__file__).parent.parent / "config.toml"


def kb(data_dir: Path, *args: str) -> int:
    return main(["--config", str(CONFIG), "--data-dir", str(data_dir), "kb", *args])


@pytest.fixture
def source(tmp_path: Path) -> Path:
    header, rows = bitext_rows(every=40)  # 113 rows over all intents
    return write_csv(tmp_path / "bitext.csv", header, rows)


@pytest.fixture
def loaded(settings, source: Path, capsys) -> Path:
    assert kb(settings.data_dir, "ingest", str(source)) == 0
    capsys.readouterr()
    return settings.data_dir


def test_ingest_prints_a_summary_and_is_idempotent(settings, source: Path, capsys) -> None:
    assert kb(settings.data_dir, "ingest", str(source)) == 0
    out = capsys.readouterr()
    assert out.out.startswith("added 113, updated 0, unchanged 0, skipped 0, pruned 0")
    assert "ingest: 113/113 records" in out.err  # progress lines when stderr is not a terminal
    assert kb(settings.data_dir, "ingest", str(source)) == 0
    assert capsys.readouterr().out.startswith("added 0, updated 0, unchanged 113, skipped 0, pruned 0")


def test_ingest_warns_of_contacts_the_company_config_does_not_set(settings, tmp_path: Path, capsys,
                                                                  monkeypatch) -> None:
    """Real Bitext wording: answers leave out "call {{Customer Support Phone Number}}" when
    [company] sets no number; the support lead is told at ingest, not left to wonder why."""
    path = tmp_path / "tickets.csv"
    path.write_text("question,answer\nwhat is your phone number,\"You can call us at {{Customer Support "
                    "Phone Number}} or use the live chat.\"\nhow do I email you,\"Write to {{Support "
                    "Email}}.\"\nwhere is my parcel,Track it under Orders.\n")
    args = ("ingest", str(path), "--format", "csv", "--map", "request=question", "resolution=answer")
    assert kb(settings.data_dir, *args) == 0
    err = capsys.readouterr().err
    assert ("warning: answers leave out the sentences that point customers to a contact [company] does not "
            "set: customer_support_phone_number (1 record), customer_support_email (1 record)") in err
    monkeypatch.setenv("ASSISTANT_COMPANY__CUSTOMER_SUPPORT_PHONE_NUMBER", "+1 555 0100")
    monkeypatch.setenv("ASSISTANT_COMPANY__CUSTOMER_SUPPORT_EMAIL", "help@acme.example")
    assert kb(tmp_path / "other", *args) == 0
    assert "warning" not in capsys.readouterr().err


def test_bad_rows_exit_1_and_are_listed_on_stderr(settings, tmp_path: Path, capsys) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text("question,answer\nhow do I reset my password,Use the reset link.\n,no question here\n"
                    "where is my parcel,Track it under Orders.\n")
    code = kb(settings.data_dir, "ingest", str(path), "--format", "csv",
              "--map", "request=question", "resolution=answer")
    out = capsys.readouterr()
    assert code == 1
    assert out.out.startswith("added 2, updated 0, unchanged 0, skipped 1, pruned 0")
    assert f"{path}:3: " in out.err


def test_fatal_errors_exit_2(settings, tmp_path: Path, capsys) -> None:
    assert kb(settings.data_dir, "ingest", str(tmp_path / "missing.csv")) == 2
    assert "error [unknown_format]" in capsys.readouterr().err
    assert kb(settings.data_dir, "ingest", str(tmp_path / "x.csv"), "--map", "colour=c") == 2
    assert "--map 'colour=c'" in capsys.readouterr().err


def test_prune_flag_deletes_vanished_records(settings, capsys, tmp_path: Path) -> None:
    header, rows = bitext_rows(every=400)
    path = write_csv(tmp_path / "b.csv", header, rows)
    assert kb(settings.data_dir, "ingest", str(path)) == 0
    write_csv(path, header, rows[1:])
    assert kb(settings.data_dir, "ingest", str(path), "--prune") == 0
    assert "pruned 1" in capsys.readouterr().out


def test_search_json_lines_carry_id_score_text_and_labels(loaded: Path, capsys) -> None:
    assert kb(loaded, "search", "I want to cancel my order", "-k", "3", "--json") == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(hits) == 3
    assert hits[0]["metadata"]["intent"] == "cancel_order"
    assert hits[0]["metadata"]["category"] == "ORDER"
    assert all(0 <= h["score"] <= 1 and h["id"] and h["text"] for h in hits)


def test_search_filters(loaded: Path, capsys) -> None:
    args = ["--json", "--category", "REFUND", "--source", "bitext"]
    assert kb(loaded, "search", "cancel my order", *args) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hits and all(h["metadata"]["category"] == "REFUND" for h in hits)


def test_search_human_output_is_readable(loaded: Path, capsys) -> None:
    assert kb(loaded, "search", "I forgot my password", "-k", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    score, rid, label, *_ = lines[0].split()
    assert 0 < float(score) <= 1 and rid.startswith("bitext:") and label == "[recover_password]"


def test_search_reads_queries_from_stdin(loaded: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("I want to cancel my order\n\nhow do I get a refund\n"))
    assert kb(loaded, "search", "-", "--json", "-k", "2") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["query"] for line in lines] == ["I want to cancel my order", "how do I get a refund"]
    assert lines[0]["hits"][0]["metadata"]["intent"] == "cancel_order"
    assert all(len(line["hits"]) == 2 for line in lines)


def test_stdin_search_as_a_real_process(loaded: Path) -> None:
    queries = "where is my package\nI need my invoice\n"
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "--config", str(CONFIG), "--data-dir", str(loaded),
         "kb", "search", "-", "--json", "-k", "1"],
        input=queries, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["where is my package", "I need my invoice"]
    assert lines[1]["hits"][0]["metadata"]["category"] == "INVOICE"


def test_stats_json_and_text(loaded: Path, capsys) -> None:
    assert kb(loaded, "stats", "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["count"] == 113 and stats["by_source"] == {"bitext": 113}
    assert stats["embedding_model"] == "packaged:minilm-int8"
    assert kb(loaded, "stats") == 0
    out = capsys.readouterr().out
    assert "records: 113" in out and "ORDER" in out


def test_delete_needs_yes_without_a_terminal(loaded: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert kb(loaded, "delete") == 2
    assert "--yes" in capsys.readouterr().err
    assert kb(loaded, "delete", "--yes") == 0
    assert "deleted 113 records" in capsys.readouterr().out
    assert kb(loaded, "stats", "--json") == 0
    assert json.loads(capsys.readouterr().out)["count"] == 0


def test_the_kb_commands_search_with_what_customers_call_the_intents(settings) -> None:
    from channels.cli.kb import open_kb

    assert settings.dialogue.intent_labels  # config.toml labels the demo history's intents
    with open_kb(settings) as kb:
        assert kb.retriever.intent_labels == settings.dialogue.intent_labels
