"""Importers on the real demo files and on small files written by the tests."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from knowledge.config import ColumnMapping
from knowledge.errors import FormatError, KnowledgeError
from knowledge.importers import FORMATS, READERS, RowProblem, read_records, sniff_format
from knowledge.records import Record
from knowledge.redact import Redactor

DEMO = Path(__file__).parent.parent / "demo"
BITEXT = DEMO / "bitext" / "records.csv"
CONVOS = DEMO / "abcd" / "abcd_sample.json"
GUIDELINES = DEMO / "abcd" / "guidelines.json"


def records(path: Path, **kwargs) -> list[Record]:
    items = list(read_records(path, **kwargs))
    assert not [i for i in items if isinstance(i, RowProblem)]
    return items  # type: ignore[return-value]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- formats -------------------------------------------------------------------------------------


def test_every_format_has_a_reader() -> None:
    assert tuple(READERS) == FORMATS


@pytest.mark.parametrize(
    ("path", "expected"),
    [(BITEXT, "bitext"), (CONVOS, "abcd-conversations"), (GUIDELINES, "abcd-guidelines")],
)
def test_sniff_demo_files(path: Path, expected: str) -> None:
    assert sniff_format(path) == expected


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("tickets.csv", "request,resolution\nhi,hello\n", "csv"),
        ("tickets.tsv", "request\tresolution\nhi\thello\n", "csv"),
        ("tickets.jsonl", '{"request": "a"}\n', "jsonl"),
        ("tickets.json", '{"request": "a", "resolution": "b"}\n{"request": "c"}\n', "jsonl"),
        ("policy.md", "# Returns\nWithin 30 days.\n", "markdown"),
        ("policy.txt", "Returns are free.\n", "text"),
        ("POLICY", "# Returns\nWithin 30 days.\n", "markdown"),
    ],
)
def test_sniff_small_files(tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert sniff_format(write(tmp_path / name, content)) == expected


def test_sniff_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    cases = {
        "scan.pdf": b"%PDF-1.7 binary",
        "empty.csv": b"",
        "image.csv": b"\x89PNG\x00\x00",
        "latin1.txt": "caf\xe9 cr\xe8me".encode("latin-1"),
        "other.json": b'[{"name": "a list, but not of ABCD conversations"}]',
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(FormatError) as err:
            sniff_format(tmp_path / name)
        assert name in err.value.message and err.value.code == "unknown_format"
    with pytest.raises(FormatError, match="no such file"):
        sniff_format(tmp_path / "missing.csv")


def test_unknown_format_name_lists_the_known_ones() -> None:
    with pytest.raises(FormatError, match="abcd-guidelines"):
        read_records(BITEXT, format="excel")


# -- Bitext --------------------------------------------------------------------------------------


def test_bitext_reads_every_row_as_qa() -> None:
    recs = records(BITEXT)
    assert len(recs) == 4514
    assert len({r.id for r in recs}) == 4514
    first = recs[0]
    assert first.request == "how can I cancel purchase 113542617735902?"  # an order id, not a card
    assert first.resolution.startswith("I understand how unnerving it can be to cancel an order")
    assert "{{Website Name}}" in first.resolution and "\r" not in first.resolution
    assert (first.intent, first.category) == ("cancel_order", "ORDER")
    assert (first.kind, first.source) == ("qa", "bitext")
    assert first.tags == ("basic", "interrogative", "lexical-variation")
    assert first.id.startswith("bitext:")
    assert {r.category for r in recs} >= {"ACCOUNT", "ORDER", "REFUND", "DELIVERY"}


def test_bitext_ids_are_stable_across_reads() -> None:
    assert [r.id for r in records(BITEXT)] == [r.id for r in records(BITEXT)]


def test_changed_resolution_keeps_the_id(tmp_path: Path) -> None:
    with open(BITEXT, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[:6]
    before = write_csv(tmp_path / "v1.csv", rows)
    rows[3][-1] = "We changed this answer: use the {{Cancel Order}} button."
    after = write_csv(tmp_path / "v2.csv", rows)
    old, new = records(before, source="bitext"), records(after, source="bitext")
    assert [r.id for r in old] == [r.id for r in new]
    assert old[2].resolution != new[2].resolution
    assert old[2].content_hash() != new[2].content_hash()
    assert [r.content_hash() for i, r in enumerate(old) if i != 2] == [
        r.content_hash() for i, r in enumerate(new) if i != 2
    ]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


# -- ABCD ----------------------------------------------------------------------------------------


def test_abcd_conversations_become_redacted_transcripts() -> None:
    recs = records(CONVOS)
    assert [r.id for r in recs] == ["abcd:3592", "abcd:9489", "abcd:3695"]
    return_size = recs[0]
    assert return_size.kind == "transcript" and return_size.source == "abcd"
    assert (return_size.intent, return_size.category) == ("return_size", "product_defect")
    assert return_size.request == "I need to return an item, can you help me with that?"
    assert "more than 90 days we cannot accept the return" in return_size.resolution
    assert "Have a great night" not in return_size.resolution
    assert return_size.product == "michael kors jeans"
    lines = return_size.transcript.splitlines()
    assert lines[:3] == ["Agent: Hi!", "Agent: How can I help you?",
                         "Customer: Hi! I need to return an item, can you help me with that?"]
    assert "[action] Account has been pulled up for Crystal Minh." in lines
    assert "cminh730@email.com" not in return_size.transcript
    assert "(977) 625-2661" not in return_size.transcript
    assert "Customer: [EMAIL]" in lines and "Customer: [PHONE]" in lines
    assert "Order ID: 3348917502" in return_size.transcript  # order ids are kept
    promo = recs[2]
    assert promo.request.startswith("I've got a promo code")  # "HEY HO!" is skipped
    assert promo.resolution == "All promo codes expire after 7 days without fail."


def test_abcd_conversation_without_turns_is_reported(tmp_path: Path) -> None:
    convos = json.loads(CONVOS.read_text())
    convos[1] = {"convo_id": 1, "scenario": {}, "original": "not a list"}
    path = write(tmp_path / "convos.json", json.dumps(convos, indent=1))
    items = list(read_records(path))
    problems = [i for i in items if isinstance(i, RowProblem)]
    assert [type(i).__name__ for i in items] == ["Record", "RowProblem", "Record"]
    assert "original" in problems[0].message
    starts = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if line == " {"]
    assert problems[0].line == starts[1]  # where the second conversation's object opens


def test_abcd_guidelines_become_policy_chunks() -> None:
    recs = records(GUIDELINES, chunk_size=600, chunk_overlap=60)
    assert len(recs) > 30
    assert len({r.id for r in recs}) == len(recs)
    refund = [r for r in recs if r.intent == "initiate_refund"]
    assert refund[0].subject == "Refunds and returns / Initiate Refund"
    assert refund[0].request == refund[0].subject
    assert refund[0].category == "product_defect" and refund[0].kind == "policy"
    assert refund[0].id == "abcd:guidelines:product_defect/initiate_refund:0"
    assert "[Validate Purchase]" in " ".join(r.resolution for r in refund)
    assert all(len(r.resolution) <= 600 for r in recs)


# -- generic CSV / JSONL --------------------------------------------------------------------------


TICKETS = """ticket,question,answer,when,labels
T-1,"My parcel never arrived, email me at ann@example.com",We resent it.,2024-03-15,"delivery, lost"
T-2,How do I reset my password?,"Use the ""Forgot password"" link.
It mails you a code.",2024-03-16,account
,,,,
T-4,Refund my order 113542617735902,,2024-03-18,refund
T-5,Too,many,fields,here,extra
T-2,Same id again,Answer,2024-03-19,
T-7,Can I pay by card 4111 1111 1111 1111?,Yes.,2024-03-20,payment
"""
MAPPING = ColumnMapping(
    id="ticket", request="question", resolution="answer", created_at="when", tags="labels"
)


def test_csv_with_mapping_reads_good_rows_and_reports_bad_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "tickets.csv", TICKETS)
    items = list(read_records(path, mapping=MAPPING))
    recs = [i for i in items if isinstance(i, Record)]
    problems = [(p.line, p.message) for p in items if isinstance(p, RowProblem)]
    assert [r.id for r in recs] == ["tickets.csv:T-1", "tickets.csv:T-2", "tickets.csv:T-7"]
    assert recs[0].request == "My parcel never arrived, email me at [EMAIL]"
    assert recs[0].tags == ("delivery", "lost") and recs[0].created_at == "2024-03-15"
    assert recs[1].resolution == 'Use the "Forgot password" link.\nIt mails you a code.'
    assert recs[2].request == "Can I pay by card [CARD]?"
    assert problems == [
        (5, "empty row"),
        (6, "empty 'answer'"),
        (7, "the row has 6 fields, the header has 5"),
        (8, "duplicate id 'T-2' (first on line 3)"),
    ]
    assert all(p.path == str(path) for p in items if isinstance(p, RowProblem))


def test_csv_missing_mapped_column_names_it_and_the_columns_present(tmp_path: Path) -> None:
    path = write(tmp_path / "tickets.csv", TICKETS)
    with pytest.raises(FormatError) as err:
        list(read_records(path, mapping=ColumnMapping(request="question", resolution="reply")))
    assert "'reply'" in err.value.message and "ticket, question, answer, when, labels" in err.value.message


def test_csv_without_id_column_hashes_the_request(tmp_path: Path) -> None:
    v1 = write(tmp_path / "faq.csv", "request,resolution\nWhere is my order?,Tracking page.\n"
               "Where is my order?,Call us.\nCan I return shoes?,Yes within 30 days.\n")
    v2 = write(tmp_path / "faq2.csv", "request,resolution\nWhere is  my order? ,\"Tracking page, updated.\"\n"
               "Where is my order?,Call us.\nCan I return shoes?,Yes within 60 days.\n")
    a, b = records(v1, source="faq"), records(v2, source="faq")
    assert [r.id for r in a] == [r.id for r in b]
    assert a[1].id == a[0].id + "~2"
    assert b[2].resolution == "Yes within 60 days."


def test_jsonl_with_mapping_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        {"id": 101, "customer": {"message": "Card 4111111111111111 was charged twice"},
         "reply": "Refunded.", "labels": ["billing", "refund"], "product": "Pro plan"},
        "{not json",
        [1, 2],
        {"id": 103, "customer": {"message": ""}, "reply": "x"},
        {"id": 104, "customer": {"message": "Call me on +44 20 7946 0958"}, "reply": "We called."},
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n\n"
    path = write(tmp_path / "chats.jsonl", text)
    mapping = ColumnMapping(id="id", request="customer.message", resolution="reply", tags="labels",
                            product="product")
    items = list(read_records(path, mapping=mapping, source="chats"))
    recs = [i for i in items if isinstance(i, Record)]
    problems = {p.line: p.message for p in items if isinstance(p, RowProblem)}
    assert [r.id for r in recs] == ["chats:101", "chats:104"]
    assert recs[0].request == "Card [CARD] was charged twice"
    assert recs[0].tags == ("billing", "refund") and recs[0].product == "Pro plan"
    assert recs[1].request == "Call me on [PHONE]"
    assert problems[2].startswith("invalid JSON") and "object" in problems[3]
    assert problems[4] == "empty 'customer.message'"
    assert sorted(problems) == [2, 3, 4]


def test_jsonl_mapping_typo_is_a_format_error(tmp_path: Path) -> None:
    path = write(tmp_path / "chats.jsonl", '{"question": "a", "answer": "b"}\n')
    with pytest.raises(FormatError, match="'request'.*question, answer"):
        list(read_records(path))


# -- documents ------------------------------------------------------------------------------------


POLICY = """Our promise: happy customers.

# Returns
Items can be returned within 30 days. Write to returns@shop.example.

## Damaged items
Send a photo of the damage. We replace the item at no cost.

# Shipping
""" + "Orders ship within two working days. " * 20


def test_markdown_chunks_carry_their_heading_path(tmp_path: Path) -> None:
    path = write(tmp_path / "policy.md", POLICY)
    recs = records(path, chunk_size=200, chunk_overlap=20)
    subjects = [r.subject for r in recs]
    assert subjects[:3] == ["", "Returns", "Returns / Damaged items"]
    assert subjects.count("Shipping") >= 3  # the long section is cut into chunks
    assert all(len(r.resolution) <= 200 and r.kind == "policy" for r in recs)
    assert recs[0].request == "Our promise: happy customers."
    assert recs[2].request == "Returns / Damaged items"
    assert "[EMAIL]" in recs[1].resolution and "returns@shop.example" not in recs[1].resolution
    ids = [r.id for r in recs]
    assert ids[:3] == ["policy.md:intro:0", "policy.md:returns:0", "policy.md:returns_damaged_items:0"]
    assert len(set(ids)) == len(ids)
    assert ids == [r.id for r in records(path, chunk_size=200, chunk_overlap=20)]


def test_text_file_is_chunked_under_its_first_line(tmp_path: Path) -> None:
    body = "Every device has two years of cover. " * 30
    path = write(tmp_path / "warranty.txt", "Warranty terms\n\n" + body)
    recs = records(path, chunk_size=300, chunk_overlap=30)
    assert len(recs) >= 3
    assert {r.subject for r in recs} == {"Warranty terms"}
    assert [r.id for r in recs] == [f"warranty.txt:{i}" for i in range(len(recs))]


def test_overlap_must_be_smaller_than_chunk(tmp_path: Path) -> None:
    path = write(tmp_path / "p.txt", "text")
    with pytest.raises(KnowledgeError, match="chunk_overlap"):
        list(read_records(path, chunk_size=100, chunk_overlap=100))


# -- redaction options ----------------------------------------------------------------------------


def test_custom_redactor_and_redact_false(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", "request,resolution\nAccount ACCT-123456 of bo@example.com,Fixed.\n")
    assert records(path, redactor=Redactor([r"ACCT-\d{6}"]))[0].request == "Account [REDACTED] of [EMAIL]"
    assert records(path, redact=False)[0].request == "Account ACCT-123456 of bo@example.com"


def test_demo_copy_keeps_source_names(tmp_path: Path) -> None:
    copy = tmp_path / "export.csv"
    shutil.copy(BITEXT, copy)
    assert records(copy)[0].source == "bitext"  # the Bitext layout, whatever the file is called


def test_a_bitext_answer_never_keeps_its_own_customers_details() -> None:
    """Order and invoice ids, names, amounts and places the customer gave become placeholders."""
    import csv

    from knowledge.importers import read_records

    path = Path(__file__).parent.parent / "demo" / "bitext" / "records.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = {r["instruction"].strip(): r for r in csv.DictReader(f)}
    checked = 0
    for record in read_records(path, format="bitext"):
        row = rows.get(record.request)
        if row is None or row["entity_type"] not in ("order_id", "invoice_id", "person_name"):
            continue
        value = row["entity_value"].lstrip("#")
        assert value not in record.resolution, (record.id, value)
        checked += 1
    assert checked > 500


def test_every_bitext_answer_reads_as_this_customers() -> None:
    """Composed for a customer who gave no details, no Bitext answer keeps an amount, period or id
    from its own request, a stray brace, or a generic phrase said twice ("our website, our website",
    "from during our business hours", "within the number of days stated in our policy business days")."""
    import re

    from assistant.grounding import specifics
    from knowledge.importers import read_records
    from knowledge.placeholders import resolution_for

    said_twice = re.compile(r"\b(our website|your order|our customer support phone number|during)"
                            r",?\s+\1\b|\b(?:from|through|on|which\s+are)\s+during\s+our\s+business\s+hours"
                            r"|\bstated\s+in\s+our\s+policy\s+(?:business\s+)?days\b", re.IGNORECASE)
    composed = 0
    for record in read_records(BITEXT, format="bitext"):
        text = resolution_for(record.resolution, record.request, {})
        kinds = ("amount", "number", "date")
        theirs = {s.text for s in specifics(record.request) if s.kind in kinds}
        leaked = [s.text for s in specifics(text) if s.kind in kinds and s.text in theirs]
        assert not leaked, (record.id, leaked)
        assert not re.search(r"[{}]", re.sub(r"\{\{[\w ]+\}\}", "", text)), record.id  # whole ones only
        assert not said_twice.search(text), (record.id, said_twice.search(text))
        composed += 1
    assert composed > 4000
