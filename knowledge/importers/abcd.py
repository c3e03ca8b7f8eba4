"""ABCD (Action-Based Conversations Dataset): conversations as transcripts, guidelines as policy.

A conversation becomes one "transcript" record: the customer's opening request, the
agent's resolving messages and the whole redacted conversation. Each guideline
subflow becomes one or more "policy" chunks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from knowledge.errors import FormatError
from knowledge.importers.common import IdMaker, ReadOptions, RowProblem, clean, redacted, slug, text_splitter
from knowledge.records import Record

Item = Record | RowProblem

_GREETING = re.compile(
    r"^(?:hi|hello|hey|hey ho|howdy|good (?:morning|afternoon|evening|day)|greetings)\b[\s!.,]*", re.I
)
# Agent sentences that close, stall or ask for details rather than resolve.
_PLEASANTRY = re.compile(
    r"\b(?:have a (?:great|nice|good|wonderful|lovely) \w+|pleasure|you'?re welcome|thanks?|thank you|bye|"
    r"take care|anything else|glad (?:i|to)|happy to help|one moment|just a (?:moment|second|sec)|"
    r"let me (?:check|look|see)|bear with me)\b",
    re.I,
)
_INFO_REQUEST = re.compile(
    r"\b(?:may i (?:have|get|ask)|can i (?:have|get)|could (?:i|you) (?:have|get|give|provide)|"
    r"(?:would|could|can) you (?:give|provide|tell|confirm|verify)|give me|i'?d (?:just )?need|"
    r"i need your|please provide|what is your)\b",
    re.I,
)
# "Thanks for waiting, your refund is on its way." still resolves once its opening is dropped.
_OPENER = re.compile(
    r"^(?:ok(?:ay)?|sure|great|perfect|alright|thanks?(?: so much)?|"
    r"thank you(?: so much| for (?:waiting|your patience|holding))?)\b[\s,!.]*",
    re.I,
)
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_MAX_RESOLUTION_TURNS = 5


def read_conversations(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """One "transcript" record per conversation, id from convo_id."""
    ids = IdMaker(opts.source)
    for line, convo in _conversations(path):
        record = _conversation_record(str(path), line, convo, ids, opts.source)
        yield record if isinstance(record, RowProblem) else redacted(record, opts.redactor)


def read_guidelines(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """Policy chunks, one document per flow/subflow, subject "Refunds and returns / Initiate Refund"."""
    data = _load(path)
    if not isinstance(data, dict):
        raise FormatError(f"{path.name}: ABCD guidelines must be a JSON object of flows")
    splitter = text_splitter(opts.chunk_size, opts.chunk_overlap)
    for flow, spec in data.items():
        line = _line_of(path, f'"{flow}"')
        subflows = spec.get("subflows") if isinstance(spec, dict) else None
        if not isinstance(subflows, dict):
            yield RowProblem(str(path), line, f"flow '{flow}' has no 'subflows' object")
            continue
        title = clean(spec.get("description")) or flow
        for name, sub in subflows.items():
            text = _guideline_text(sub)
            if not text:
                yield RowProblem(str(path), line, f"subflow '{flow} / {name}' has no text")
                continue
            subject = f"{title[:1].upper()}{title[1:]} / {name}"
            for i, chunk in enumerate(splitter.split_text(text)):
                record = Record(
                    id=f"{opts.source}:{slug(flow)}/{slug(name)}:{i}", request=subject, resolution=chunk,
                    subject=subject, intent=slug(name), category=slug(flow), source=opts.source,
                    kind="policy", audience="internal",  # agents' procedures, never a customer's answer
                )
                yield redacted(record, opts.redactor)


def _guideline_text(sub: Any) -> str:
    if not isinstance(sub, dict):
        return ""
    lines: list[str] = [clean(s) for s in sub.get("instructions", [])[:1]]
    for action in sub.get("actions", []):
        if isinstance(action, dict):
            lines.append(clean(action.get("text")))
            lines.extend(f"- {clean(s)}" for s in action.get("subtext", []) if clean(s))
    lines.extend(clean(s) for s in sub.get("instructions", [])[1:])
    return "\n".join(ln for ln in lines if ln)


def _load(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path.name} is not UTF-8 text") from None


def _conversations(path: Path) -> Iterator[tuple[int, Any]]:
    """(line where the object starts, object) for a list of conversations, or the
    release's {"train": [...], "dev": [...], "test": [...]}."""
    data = _load(path)
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        items = [c for split in data.values() for c in split]
    elif isinstance(data, list):
        items = data
    else:
        raise FormatError(f"{path.name}: ABCD conversations must be a JSON list of conversation objects")
    lines = _object_lines(path, len(items))
    yield from zip(lines, items, strict=True)


def _object_lines(path: Path, count: int) -> list[int]:
    """Best-effort start line of each conversation: the "{" that opens its "convo_id" key."""
    found: list[int] = []
    last_brace = 1
    with open(path, encoding="utf-8-sig") as f:
        for n, text in enumerate(f, start=1):
            for _ in range(text.count('"convo_id"')):
                found.append(n if "{" in text.split('"convo_id"')[0] else last_brace)
            if "{" in text:
                last_brace = n
    return found if len(found) == count else [1] * count


def _line_of(path: Path, needle: str) -> int:
    with open(path, encoding="utf-8-sig") as f:
        return next((n for n, text in enumerate(f, start=1) if needle in text), 1)


def _conversation_record(path: str, line: int, convo: Any, ids: IdMaker, source: str) -> Record | RowProblem:
    turns = convo.get("original") if isinstance(convo, dict) else None
    if not isinstance(turns, list) or not all(isinstance(t, list) and len(t) == 2 for t in turns):
        return RowProblem(path, line, "conversation has no 'original' list of [speaker, text] turns")
    turns = [(str(s), clean(t)) for s, t in turns]
    convo_id = clean(convo.get("convo_id"))
    if not convo_id:
        return RowProblem(path, line, "conversation has no 'convo_id'")
    request, resolution = opening_request(turns), resolving_messages(turns)
    if not request or not resolution:
        what = "a customer request" if not request else "an agent answer"
        return RowProblem(path, line, f"conversation {convo_id} has no {what}")
    scenario = convo.get("scenario") if isinstance(convo.get("scenario"), dict) else {}
    flow, subflow = clean(scenario.get("flow")), clean(scenario.get("subflow"))
    names = (scenario.get("product") or {}).get("names") or []
    return Record(
        id=ids.make(convo_id), request=request, resolution=resolution,
        subject=" / ".join(s.replace("_", " ") for s in (flow, subflow) if s).capitalize(),
        intent=subflow, category=flow, product=", ".join(clean(n).replace("_", " ") for n in names),
        source=source, kind="transcript", transcript=transcript(turns),
    )


def transcript(turns: list[tuple[str, str]]) -> str:
    """"Customer: …" / "Agent: …" / "[action] …" lines."""
    lines = [f"[action] {t}" if s == "action" else f"{s.capitalize()}: {t}" for s, t in turns]
    return "\n".join(lines)


def opening_request(turns: list[tuple[str, str]]) -> str:
    """The customer's first substantive message and the ones right after it, greetings removed."""
    picked: list[str] = []
    for speaker, text in turns:
        if speaker != "customer":
            if picked and speaker == "agent":
                break
            continue
        body = _GREETING.sub("", text).strip()
        if len(body.split()) >= 3 or picked:
            picked.append(body or text)
    if not picked:  # only short messages: take the first that is more than a greeting
        picked = [t for s, t in turns if s == "customer" and _GREETING.sub("", t).strip()][:1]
    return " ".join(picked)


def resolving_messages(turns: list[tuple[str, str]]) -> str:
    """The agent's last substantive statements: no questions, pleasantries or requests for details.

    Only turns after the agent first acted (an [action] turn) count when there is one:
    before that the agent is identifying the customer, not resolving anything.
    """
    first_action = next((i for i, (s, _) in enumerate(turns) if s == "action"), 0)
    kept: list[str] = []
    for speaker, text in turns[first_action:]:
        if speaker == "agent":
            sentences = [s for s in map(_without_opener, _SENTENCE.findall(text)) if _resolving(s)]
            body = " ".join(s for s in sentences if s)
            if len(body.split()) >= 3:
                kept.append(body)
    return "\n".join(kept[-_MAX_RESOLUTION_TURNS:])


def _without_opener(sentence: str) -> str:
    rest = _OPENER.sub("", sentence.strip())
    return rest[:1].upper() + rest[1:] if rest != sentence.strip() else rest


def _resolving(sentence: str) -> bool:
    s = sentence.strip()
    return bool(s) and not s.endswith("?") and not _PLEASANTRY.search(s) and not _INFO_REQUEST.search(s)
