"""The evaluation harness: many turns through the real pipeline, scored against expectations.

A case is one JSON line: {"id", "text"?, "image"?, "audio"?, "expect": {"intent"?, "route"?}},
paths relative to the cases file; a route is answer, handoff or unsure. Each case
runs in a fresh conversation, so cases never see each other's history. Answers are
scored themselves too (assistant.grounding): grounded, invented specifics, cut off,
looping, on topic (the resolution nearest to the answer has the expected intent)
and the answer's language against the customer's. `assistant eval`,
benchmarks/answers.py and benchmarks/answer_quality.py use it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.dialogue import DialogueManager
from assistant.errors import InputError
from assistant.events import (
    AnswerCompleted,
    AnswerDelta,
    ErrorEvent,
    ImageText,
    StatusChanged,
    UserMessage,
    VoiceTranscript,
)
from assistant.grounding import AnswerCheck, check_answer, evidence_texts
from assistant.images import sniff_image_type
from assistant.language import detect
from assistant.ports import TurnTrace
from assistant.search_batch import Searchable
from assistant.store.base import ConversationStore
from knowledge.records import Hit

ROUTES = ("answer", "handoff", "unsure")
ON_TOPIC_CANDIDATES = 20  # records whose resolutions an answer is compared with


class Embedding(Searchable, Protocol):
    """What on-topic scoring needs of knowledge.base.KnowledgeBase (blocking): search and embed."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class TopicJudge:
    """Which intent an answer is about: that of the record whose resolution is nearest to it.

    Records are indexed by their requests, so the candidates are the records the answer
    text finds; their resolutions are then compared with the answer itself (each
    resolution embedded once per judge, so a long evaluation stays quick)."""

    def __init__(self, knowledge: Embedding, candidates: int = ON_TOPIC_CANDIDATES) -> None:
        self.knowledge = knowledge
        self.candidates = candidates
        self._vectors: dict[str, np.ndarray] = {}

    def intent_of(self, text: str) -> str:
        hits = self.knowledge.search(text, self.candidates)
        if not hits:
            return ""
        new = [h for h in hits if h.id not in self._vectors]
        vectors = self.knowledge.embed([text, *(h.text for h in new)])
        self._vectors.update({h.id: v for h, v in zip(new, vectors[1:], strict=True)})
        similarity = np.stack([self._vectors[h.id] for h in hits]) @ vectors[0]
        return hits[int(np.argmax(similarity))].record.intent


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
    unsure: str = ""  # why the history held no answer (route unsure)
    error: str = ""  # code of an error event, if the turn hit one
    check: AnswerCheck | None = None  # the answer judged against its evidence
    on_topic: bool | None = None  # the resolution nearest to the answer has the expected intent
    answer_intent: str = ""  # that resolution's intent
    clarified: tuple[str, ...] = ()  # the intents a clarifying question offered before the answer
    language: str = ""  # the customer's language ("" unknown)
    language_match: bool | None = None  # the answer is in the customer's language
    ok: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # ms: total, first_token

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "route": self.route, "top_intent": self.top_intent}
        for key in ("transcript", "image_text", "answer", "unsure", "error", "answer_intent", "language"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.check is not None:
            data.update(self.check.to_json())
        if self.on_topic is not None:
            data["on_topic"] = self.on_topic
        if self.clarified:
            data["clarified"] = list(self.clarified)
        if self.language_match is not None:
            data["language_match"] = self.language_match
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
            raise InputError(f"{path}:{number}: expect.route must be one of {', '.join(ROUTES)}",
                             code="bad_case")
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
                   retrieve_only: bool = False, judge: TopicJudge | None = None) -> CaseResult:
    """One case in a fresh conversation. With a `judge` (the knowledge base) answers are
    scored on topic; grounding, cut-off, loops and language are scored without one.

    When the assistant asks back which question was meant (assistant.clarify), the customer
    answers truthfully: the label of the expected intent when it is offered, else "no"; the
    case's route and answer are then those of that second turn (retrieve-only: the route the
    choice leads to, "answer" or "unsure"). top_intent stays the first turn's."""
    conv = await dialogue.new_conversation(inbox="eval")
    attachments = [await attach(store, conv.id, p) for p in (case.image, case.audio) if p is not None]
    result, trace = CaseResult(id=case.id, route="answer"), TurnTrace()
    start = time.perf_counter()
    message = UserMessage(conversation_id=conv.id, text=case.text, attachments=tuple(attachments))
    completed, language = await _turn(dialogue, message, result, trace, start, retrieve_only=retrieve_only)
    result.top_intent = trace.hits[0].record.intent if trace.hits else ""
    if trace.options:
        result.clarified = tuple(o.intent for o in trace.options)
        chosen = next((o.label for o in trace.options if o.intent == case.expect_intent), "")
        if retrieve_only:
            result.route = "answer" if chosen else "unsure"
            result.unsure = "" if chosen else "declined_options"
        else:
            result.answer, trace = "", TurnTrace()
            reply = UserMessage(conversation_id=conv.id, text=chosen or "no")
            completed, _ = await _turn(dialogue, reply, result, trace, start, retrieve_only=False)
    result.timings["total"] = _ms(start)
    if result.route == "answer" and trace.unsure:
        result.route, result.unsure = "unsure", trace.unsure
    if result.error and result.route == "answer" and not result.answer and not retrieve_only:
        result.route = "error"
    if completed is not None and completed.grounded:
        said = [t for t in (case.text, result.transcript, result.image_text) if t]
        await asyncio.to_thread(_score_answer, result, completed, trace.hits, said, dialogue.settings.company,
                                judge, case.expect_intent, language)
    result.ok = ((not case.expect_intent or case.expect_intent == result.top_intent)
                 and (not case.expect_route or case.expect_route == result.route))
    return result


async def _turn(dialogue: DialogueManager, message: UserMessage, result: CaseResult, trace: TurnTrace,
                start: float, *, retrieve_only: bool) -> tuple[AnswerCompleted | None, str]:
    """One customer message through the dialogue, noted in `result`: (its answer, the language heard)."""
    completed: AnswerCompleted | None = None
    language = ""
    async for event in dialogue.handle(message, answer=not retrieve_only, trace=trace):
        if isinstance(event, AnswerDelta) and "first_token" not in result.timings:
            result.timings["first_token"] = _ms(start)
        elif isinstance(event, VoiceTranscript):
            result.transcript, language = event.text, event.language
        elif isinstance(event, ImageText):
            result.image_text = event.text
        elif isinstance(event, StatusChanged) and event.state == "waiting_human":
            result.route = "handoff"
        elif isinstance(event, AnswerCompleted):
            result.answer, completed = event.text, event
        elif isinstance(event, ErrorEvent):
            result.error = event.code
    return completed, language


def _score_answer(result: CaseResult, answer: AnswerCompleted, hits: Sequence[Hit], said: list[str],
                  company: Mapping[str, str], judge: TopicJudge | None, expect_intent: str,
                  language: str) -> None:
    cited = {s.id for s in answer.sources}
    references = [h for h in hits if h.id in cited]
    result.check = check_answer(answer.text, evidence_texts(references, said, company),
                                [h.text for h in references])
    result.language = language or detect(" ".join(said)) or "en"
    spoken = detect(answer.text)
    result.language_match = not spoken or spoken == result.language
    if judge is not None and expect_intent:
        result.answer_intent = judge.intent_of(answer.text)
        result.on_topic = result.answer_intent == expect_intent


def summarize(cases: Sequence[Case], results: Sequence[CaseResult]) -> dict[str, Any]:
    """hit@1 over cases expecting an intent; route figures over cases expecting a route;
    answer figures over the answers that were scored (grounded answers, not unsure ones)."""
    pairs = list(zip(cases, results, strict=True))
    with_intent = [(c, r) for c, r in pairs if c.expect_intent]
    with_route = [(c, r) for c, r in pairs if c.expect_route]
    checked = [r.check for r in results if r.check is not None]
    on_topic = [r.on_topic for r in results if r.on_topic is not None]
    languages = [r.language_match for r in results if r.language_match is not None]
    first = sorted(r.timings["first_token"] for r in results if "first_token" in r.timings)
    clarified = [(c, r) for c, r in pairs if r.clarified and c.expect_intent]
    precision, recall = _route_figures(with_route, "handoff")
    unsure_precision, unsure_recall = _route_figures(with_route, "unsure")
    return {
        "cases": len(pairs),
        "ok": sum(r.ok for r in results),
        "hit_at_1": _share(sum(c.expect_intent == r.top_intent for c, r in with_intent), len(with_intent)),
        "route_accuracy": _share(sum(c.expect_route == r.route for c, r in with_route), len(with_route)),
        "handoff_precision": precision,
        "handoff_recall": recall,
        "unsure_precision": unsure_precision,
        "unsure_recall": unsure_recall,
        "answers_scored": len(checked),
        "grounded": _share(sum(c.grounded for c in checked), len(checked)),
        "invented": _share(sum(bool(c.invented) for c in checked), len(checked)),
        "cut_off": _share(sum(c.cut_off for c in checked), len(checked)),
        "looping": _share(sum(c.looping for c in checked), len(checked)),
        "on_topic": _share(sum(on_topic), len(on_topic)),
        "language_match": _share(sum(languages), len(languages)),
        "first_token_ms_p50": first[len(first) // 2] if first else None,
        # turns asked back which question was meant, and the share of those (with an expected
        # intent) that offered it
        "clarified": sum(bool(r.clarified) for r in results),
        "clarified_right": _share(sum(c.expect_intent in r.clarified for c, r in clarified), len(clarified)),
    }


def _route_figures(pairs: Sequence[tuple[Case, CaseResult]], route: str) -> tuple[float | None, float | None]:
    """Precision and recall of one route over cases that expect a route."""
    tp = sum(c.expect_route == route and r.route == route for c, r in pairs)
    predicted = sum(r.route == route for _, r in pairs)
    actual = sum(c.expect_route == route for c, _ in pairs)
    return _share(tp, predicted), _share(tp, actual)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
