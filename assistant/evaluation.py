"""The evaluation harness: many turns through the real pipeline, scored against expectations.

A case is one JSON line: {"id", "text"?, "image"?, "audio"?, "expect": {"intent"?, "route"?}},
paths relative to the cases file. Each case runs in a fresh conversation, so cases
never see each other's history. `assistant eval` and benchmarks/answers.py use it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.dialogue import DialogueManager, Turn, TurnTrace
from assistant.errors import InputError
from assistant.events import (
    AnswerCompleted,
    AnswerDelta,
    ErrorEvent,
    ImageText,
    StatusChanged,
    VoiceTranscript,
)
from assistant.images import sniff_image_type
from assistant.store.base import ConversationStore

ROUTES = ("answer", "handoff")


@dataclass(frozen=True)
class Case:
    id: str
    text: str = ""
    image: Path | None = None
    audio: Path | None = None
    expect_intent: str = ""
    expect_route: str = ""


@dataclass
class CaseResult:
    id: str
    route: str = ""  # answer | handoff | error
    top_intent: str = ""
    transcript: str = ""
    image_text: str = ""
    answer: str = ""
    error: str = ""  # code of an error event, if the turn hit one
    ok: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # ms: total, first_token

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "route": self.route, "top_intent": self.top_intent}
        for key in ("transcript", "image_text", "answer", "error"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return {**data, "ok": self.ok, "timings": self.timings}


def load_cases(path: Path) -> list[Case]:
    """Parse a cases file; a bad line raises InputError naming its line number."""
    cases: list[Case] = []
    base = path.parent
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            expect = raw.get("expect") or {}
            case = Case(id=str(raw["id"]), text=str(raw.get("text") or ""),
                        image=base / raw["image"] if raw.get("image") else None,
                        audio=base / raw["audio"] if raw.get("audio") else None,
                        expect_intent=str(expect.get("intent") or ""),
                        expect_route=str(expect.get("route") or ""))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{path}:{number}: not a case ({exc!s})", code="bad_case") from None
        if case.expect_route and case.expect_route not in ROUTES:
            raise InputError(f"{path}:{number}: expect.route must be answer or handoff", code="bad_case")
        if not (case.text or case.image or case.audio):
            raise InputError(f"{path}:{number}: a case needs text, image or audio", code="bad_case")
        for media in (case.image, case.audio):
            if media is not None and not media.is_file():
                raise InputError(f"{path}:{number}: no such file {media}", code="bad_case")
        cases.append(case)
    return cases


async def attach(store: ConversationStore, conversation_id: str, path: Path) -> str:
    """Put a file into the store as an attachment, its type sniffed like an upload's."""
    data = path.read_bytes()
    kind = sniff_image_type(data)
    content_type = kind[1] if kind else f"audio/{path.suffix.lstrip('.').lower() or 'octet-stream'}"
    return (await store.put_attachment(conversation_id, data, content_type, path.name)).id


async def run_case(dialogue: DialogueManager, store: ConversationStore, case: Case, *,
                   retrieve_only: bool = False) -> CaseResult:
    conv = await dialogue.new_conversation(inbox="eval")
    attachments = [await attach(store, conv.id, p) for p in (case.image, case.audio) if p is not None]
    result, trace = CaseResult(id=case.id, route="answer"), TurnTrace()
    start = time.perf_counter()
    async for event in dialogue.handle(Turn(conv.id, case.text, tuple(attachments)),
                                       answer=not retrieve_only, trace=trace):
        if isinstance(event, AnswerDelta) and "first_token" not in result.timings:
            result.timings["first_token"] = _ms(start)
        elif isinstance(event, VoiceTranscript):
            result.transcript = event.text
        elif isinstance(event, ImageText):
            result.image_text = event.text
        elif isinstance(event, StatusChanged) and event.state == "waiting_human":
            result.route = "handoff"
        elif isinstance(event, AnswerCompleted):
            result.answer = event.text
        elif isinstance(event, ErrorEvent):
            result.error = event.code
    result.timings["total"] = _ms(start)
    result.top_intent = trace.hits[0].record.intent if trace.hits else ""
    if result.error and result.route == "answer" and not result.answer and not retrieve_only:
        result.route = "error"
    result.ok = ((not case.expect_intent or case.expect_intent == result.top_intent)
                 and (not case.expect_route or case.expect_route == result.route))
    return result


def summarize(cases: Sequence[Case], results: Sequence[CaseResult]) -> dict[str, Any]:
    """hit@1 over cases expecting an intent; route figures over cases expecting a route."""
    pairs = list(zip(cases, results, strict=True))
    with_intent = [(c, r) for c, r in pairs if c.expect_intent]
    with_route = [(c, r) for c, r in pairs if c.expect_route]
    tp = sum(c.expect_route == "handoff" and r.route == "handoff" for c, r in with_route)
    predicted = sum(r.route == "handoff" for _, r in with_route)
    actual = sum(c.expect_route == "handoff" for c, _ in with_route)
    first = sorted(r.timings["first_token"] for r in results if "first_token" in r.timings)
    return {
        "cases": len(pairs),
        "ok": sum(r.ok for r in results),
        "hit_at_1": _share(sum(c.expect_intent == r.top_intent for c, r in with_intent), len(with_intent)),
        "route_accuracy": _share(sum(c.expect_route == r.route for c, r in with_route), len(with_route)),
        "handoff_precision": _share(tp, predicted),
        "handoff_recall": _share(tp, actual),
        "first_token_ms_p50": first[len(first) // 2] if first else None,
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
