"""Q&A rows: the Bitext CSV, and any CSV or JSON Lines file through a ColumnMapping."""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from knowledge.errors import FormatError
from knowledge.importers.common import IdMaker, ReadOptions, RowProblem, clean, redacted, split_tags, text_key
from knowledge.placeholders import BRACED_ID
from knowledge.records import AUDIENCES, Record

Item = Record | RowProblem

# Bitext tags each letter of its `tags` cell with the kind of language variation the request shows.
BITEXT_FLAGS = {
    "B": "basic", "C": "coordinated", "E": "expanded-abbreviations", "I": "interrogative",
    "K": "keyword", "L": "lexical-variation", "M": "morphological-variation", "N": "negation",
    "P": "politeness", "Q": "colloquial", "W": "offensive", "Z": "noise",
}
_MAPPED_FIELDS = (
    "id", "request", "resolution", "subject", "intent", "category", "tags", "product", "created_at",
    "audience",
)


def read_bitext(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """One "qa" record per row: request = instruction, resolution = response."""
    ids = IdMaker(opts.source)
    rows = _csv_rows(path)
    header = _header(path, rows, required=("instruction", "intent", "category", "response"))
    for line, row in rows:
        cells = _cells(path, line, header, row)
        if isinstance(cells, RowProblem):
            yield cells
            continue
        request, resolution = clean(cells["instruction"]), clean(cells["response"])
        if not request or not resolution:
            yield RowProblem(str(path), line, "empty instruction" if not request else "empty response")
            continue
        intent = clean(cells["intent"])
        resolution = bitext_placeholders(resolution, request, cells.get("entity_type", ""),
                                         cells.get("entity_value", ""))
        # The id ignores the response, so an edited answer replaces the old version of the record.
        record = Record(
            id=ids.make(text_key(request, intent)), request=request, resolution=resolution,
            intent=intent, category=clean(cells["category"]), tags=bitext_tags(cells.get("tags", "")),
            product=clean(cells.get("entity_value")) if cells.get("entity_type") == "product" else "",
            source=opts.source, kind="qa",
        )
        yield redacted(record, opts.redactor)


# A Bitext answer repeats its customer's own details ("cancel order 370795561790", "the bill from
# Mr. Jones"): they become placeholders, so the next customer reads their own or a generic phrase.
BITEXT_ENTITIES = {"order_id": "Order Number", "invoice_id": "Invoice Number", "person_name": "Person Name",
                   "refund_amount": "Refund Amount", "delivery_city": "Delivery City",
                   "delivery_country": "Delivery Country", "account_type": "Account Type"}


def bitext_placeholders(resolution: str, request: str, entity_type: str, entity_value: str) -> str:
    name, value = BITEXT_ENTITIES.get(clean(entity_type)), clean(entity_value).lstrip("#$")
    if not name or not value:
        return resolution
    resolution = BRACED_ID.sub(r"\1", resolution)  # "order number {{370795561790}}"
    # The request may hold a longer form of the value (the dataset cut some ids short).
    longer = (m.group(0).strip(".,;:!?#$") for m in re.finditer(rf"\S*{re.escape(value)}\S*", request))
    forms = {value, *longer}
    for form in sorted(forms, key=len, reverse=True):
        v = re.escape(form)
        if name == "Refund Amount":  # "$12", not the 12 of "12 days"
            pattern = rf"[$€£]\s?{v}(?![\w.])|(?<![\w.]){v}\s?(?:dollars|euros|USD|EUR)\b"
        elif name in ("Order Number", "Invoice Number"):  # with the digits the dataset cut off
            pattern = rf"#?(?<![\w]){v}[\w-]*"
        elif name == "Account Type":  # "your Gold account", not the "free" of "feel free to ask"
            pattern = rf"(?i)(?<![\w]){v}(?=\s+accounts?\b)"
        else:
            pattern = rf"[#$]?(?<![\w]){re.escape(form)}(?![\w])"
        resolution = re.sub(pattern, f"{{{{{name}}}}}", resolution)
    return resolution


def bitext_tags(cell: str) -> tuple[str, ...]:
    """"BIL" -> ("basic", "interrogative", "lexical-variation"); unknown letters are kept as they are."""
    return tuple(dict.fromkeys(BITEXT_FLAGS.get(ch, ch) for ch in cell.strip() if not ch.isspace()))


def read_csv(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """One "qa" record per row, its columns named by opts.mapping."""
    rows = _csv_rows(path)
    columns = _mapped_columns(opts)
    header = _header(path, rows, required=tuple(columns.values()))
    build = _RowBuilder(str(path), opts)
    for line, row in rows:
        cells = _cells(path, line, header, row)
        yield cells if isinstance(cells, RowProblem) else build(line, cells.get)


def read_jsonl(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """One "qa" record per JSON object line; mapping names may be dotted paths ("customer.email")."""
    columns = _mapped_columns(opts)
    build = _RowBuilder(str(path), opts)
    checked = False
    with open(path, encoding="utf-8-sig", errors="surrogateescape") as f:
        for line, text in enumerate(f, start=1):
            if not text.strip():
                continue  # blank lines, e.g. a trailing one, are not rows
            obj = _json_object(str(path), line, text)
            if isinstance(obj, RowProblem):
                yield obj
                continue
            if not checked:
                _check_keys(path, obj, columns)
                checked = True
            yield build(line, functools.partial(_lookup, obj))


class _RowBuilder:
    """Turns one mapped row into a Record, or a RowProblem; keeps ids unique within the file."""

    def __init__(self, path: str, opts: ReadOptions) -> None:
        self.path, self.opts = path, opts
        self.ids = IdMaker(opts.source)
        self.first_line: dict[str, int] = {}  # own id -> line it was first seen on

    def __call__(self, line: int, get: Callable[[str], Any]) -> Item:
        m = self.opts.mapping
        value = {f: _text(get(getattr(m, f))) if getattr(m, f) else "" for f in _MAPPED_FIELDS}
        if not value["request"] or not value["resolution"]:
            missing = m.request if not value["request"] else m.resolution
            return RowProblem(self.path, line, f"empty '{missing}'")
        record_id = self._id(line, value)
        if isinstance(record_id, RowProblem):
            return record_id
        audience = value["audience"].lower() or "customer"
        if audience not in AUDIENCES:
            return RowProblem(self.path, line,
                              f"audience '{value['audience']}' is not one of {', '.join(AUDIENCES)}")
        tags = get(m.tags) if m.tags else None
        record = Record(
            id=record_id, request=value["request"], resolution=value["resolution"],
            subject=value["subject"], intent=value["intent"], category=value["category"],
            tags=tuple(clean(t) for t in tags) if isinstance(tags, list) else split_tags(value["tags"]),
            product=value["product"], created_at=value["created_at"], source=self.opts.source, kind="qa",
            audience=audience,
        )
        return redacted(record, self.opts.redactor)

    def _id(self, line: int, value: dict[str, str]) -> str | RowProblem:
        if not self.opts.mapping.id:
            return self.ids.make(text_key(value["request"]))
        own = value["id"]
        if not own:
            return RowProblem(self.path, line, f"empty id column '{self.opts.mapping.id}'")
        if own in self.first_line:
            return RowProblem(self.path, line, f"duplicate id '{own}' (first on line {self.first_line[own]})")
        self.first_line[own] = line
        return f"{self.opts.source}:{own}"


def _mapped_columns(opts: ReadOptions) -> dict[str, str]:
    columns = {f: getattr(opts.mapping, f) for f in _MAPPED_FIELDS if getattr(opts.mapping, f)}
    for needed in ("request", "resolution"):
        if needed not in columns:
            raise FormatError(f"the column mapping names no '{needed}' column")
    return columns


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, cells); a row the csv module cannot parse comes as (line, [])."""
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        first = f.readline()
        f.seek(0)
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        reader = csv.reader(f, delimiter=delimiter)
        end = 0
        while True:
            start = end + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                row = ["\x00"]  # reported by _cells as unreadable
            end = reader.line_num
            if row:  # blank lines are not rows
                yield start, row


def _header(path: Path, rows: Iterator[tuple[int, list[str]]], required: tuple[str, ...]) -> list[str]:
    first = next(rows, None)
    if first is None:
        raise FormatError(f"{path.name} has no header row")
    header = [c.strip() for c in first[1]]
    missing = [c for c in dict.fromkeys(required) if c not in header]
    if missing:
        raise FormatError(
            f"{path.name} has no column {', '.join(repr(c) for c in missing)}; "
            f"its columns are: {', '.join(header)}"
        )
    return header


def _cells(path: Path, line: int, header: list[str], row: list[str]) -> dict[str, str] | RowProblem:
    def problem(message: str) -> RowProblem:
        return RowProblem(str(path), line, message)

    if row == ["\x00"]:
        return problem("unreadable CSV row (a stray quote or an oversized field)")
    if not any(c.strip() for c in row):
        return problem("empty row")
    if len(row) != len(header):
        return problem(f"the row has {len(row)} fields, the header has {len(header)}")
    try:
        "".join(row).encode("utf-8")
    except UnicodeEncodeError:
        return problem("the row is not valid UTF-8 text")
    return dict(zip(header, row, strict=True))


def _json_object(path: str, line: int, text: str) -> dict[str, Any] | RowProblem:
    try:
        text.encode("utf-8")
        obj = json.loads(text)
    except UnicodeEncodeError:
        return RowProblem(path, line, "the line is not valid UTF-8 text")
    except json.JSONDecodeError as exc:
        return RowProblem(path, line, f"invalid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(obj, dict):
        return RowProblem(path, line, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _check_keys(path: Path, obj: dict[str, Any], columns: dict[str, str]) -> None:
    """A mapped column absent from the first object is most likely a typo in the mapping."""
    needed = [c for f, c in columns.items() if f in ("id", "request", "resolution")]
    missing = [c for c in needed if _lookup(obj, c) is None]
    if missing:
        raise FormatError(
            f"{path.name} has no field {', '.join(repr(c) for c in missing)}; "
            f"its first object has: {', '.join(obj)}"
        )


def _lookup(obj: dict[str, Any], name: str) -> Any:
    if name in obj:
        return obj[name]
    value: Any = obj
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return clean(value)
