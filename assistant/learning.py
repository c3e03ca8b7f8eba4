"""Customers' own words for the history's intents, learned from the conversations.

A history's requests are worded its own way (Bitext's come from templates: "I need assistance
to check the termination penalty"); its customers word things theirs ("is there a fee if I
cancel?"). Three things in a conversation's log say, in a customer's words, which intent a
message had:

- "chose": the assistant asked which of two intents was meant ("is your question about A, or
  B?"), and the customer chose one and was answered from that intent's records;
- "rated": the customer rated an answer from the history up;
- "agent": an agent sent the suggested reply (drawn on customer records) to the message, as it
  was or with more around it: a person judged that record's answer right.

Each such message becomes a record (source "learned"): the customer's words, redacted like
every import, as its request; the intent; and the resolution of the record of that intent
nearest to the words, so that the next customer who words things the same way is understood.
`assistant kb learn` runs it (docs/understanding.md, "Learning from the conversations").

    found = await learned_from(store)                     # every conversation's lessons
    records, left_out = learned_records(found, kb, redactor)
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.clarify import read_choice
from assistant.events import (
    AgentMessage,
    AnswerCompleted,
    Event,
    Feedback,
    Option,
    Source,
    Suggestion,
    UserMessage,
    VoiceTranscript,
)
from assistant.prompt import is_follow_up
from assistant.search_batch import Searchable
from assistant.store.base import ConversationStore
from knowledge.records import Record
from knowledge.redact import Redactor

LEARNED_SOURCE = "learned"  # the records' source: `kb stats` counts them, `kb learn --forget` drops them
LEARNED_PREFIX = "learned-"  # their ids: this, then the id of the customer's message
LOG_BATCH = 200  # conversations read from the store at once


@dataclass(frozen=True)
class Learned:
    """A customer's message whose intent the conversation confirmed."""

    conversation_id: str
    message_id: str  # the customer's message
    text: str  # the customer's own words (a voice note's transcript included)
    intent: str
    signal: str  # chose | rated | agent
    at: float  # when the customer sent it
    inbox: str = ""  # the conversation's


def learned_in(conversation_id: str, log: Sequence[Event], inbox: str = "") -> list[Learned]:
    """What one conversation's log confirms: its messages answered from the intent the customer
    chose, answered by an answer the customer rated up (an answer's last rating counts), or
    answered by an agent who sent the suggested reply."""
    reader = _Reader(conversation_id, log, inbox)
    for event in log:
        reader.read(event)
    return reader.found


class _Reader:
    """One log read in order, keeping what the next answer answers."""

    def __init__(self, conversation_id: str, log: Sequence[Event], inbox: str) -> None:
        self.conversation_id, self.inbox = conversation_id, inbox
        self.ratings = {e.message_id: e.rating for e in log if isinstance(e, Feedback)}
        self.words = _own_words(log)
        self.found: list[Learned] = []
        self.question: UserMessage | None = None  # what the next answer answers
        self.alone = True  # it was searched alone: the first, or no follow-up of the one before
        self.offered: tuple[Option, ...] = ()  # what a clarifying question asked between
        self.chosen = ""  # the intent the reply to it chose
        # A draft the agent may send, with the question it answered (the customer may write on)
        self.suggested: tuple[Suggestion, UserMessage | None, bool] | None = None

    def read(self, event: Event) -> None:
        if isinstance(event, UserMessage):
            # A reply to a clarifying question may be a choice, which keeps the question it was
            # asked about; any other message is a question of its own.
            words = self.words.get(event.message_id, "")
            self.chosen = read_choice(words, self.offered)[0] if self.offered else ""
            if not self.chosen:
                self.alone = self.question is None or not is_follow_up(words)
                self.question = event
            self.offered = ()
        elif isinstance(event, AnswerCompleted) and event.options:
            self.offered, self.chosen = event.options, ""
        elif isinstance(event, AnswerCompleted):
            intent = _intent(event.sources) if event.grounded and not event.interrupted else ""
            if intent and intent == self.chosen:
                self._learn(intent, "chose", self.question, self.alone)
            elif intent and self.ratings.get(event.message_id) == "up":
                self._learn(intent, "rated", self.question, self.alone)
            self.chosen = ""
        elif isinstance(event, Suggestion):  # internal drafts are reworded: they confirm nothing
            self.suggested = None if event.internal else (event, self.question, self.alone)
        elif isinstance(event, AgentMessage) and self.suggested is not None:
            draft, question, alone = self.suggested
            if _normal(draft.text) in _normal(event.text):  # sent as it was, maybe with more
                self._learn(_intent(draft.sources), "agent", question, alone)
            self.suggested = None

    def _learn(self, intent: str, signal: str, question: UserMessage | None, alone: bool) -> None:
        """Note the question as one of this intent. A follow-up ("and for the other one?") was
        searched with the turns before it (assistant.prompt.retrieval_query): alone it teaches
        nothing."""
        text = self.words.get(question.message_id, "") if question is not None else ""
        if intent and text and question is not None and alone:
            self.found.append(Learned(self.conversation_id, question.message_id, text, intent, signal,
                                      question.at, self.inbox))


def _intent(sources: Sequence[Source]) -> str:
    return sources[0].intent if sources else ""


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _own_words(log: Sequence[Event]) -> dict[str, str]:
    """message id -> what the customer typed or said (a screenshot's text is not their words)."""
    words = {e.message_id: e.text.strip() for e in log if isinstance(e, UserMessage)}
    for e in log:
        if isinstance(e, VoiceTranscript) and e.message_id in words:
            words[e.message_id] = " ".join(filter(None, [words[e.message_id], e.text.strip()]))
    return words


async def learned_from(store: ConversationStore, since: float = 0.0, until: float | None = None,
                       progress: Callable[[int, int], None] | None = None,
                       inboxes: tuple[str, ...] = ()) -> list[Learned]:
    """learned_in() of every conversation created in [since, until), or only those of `inboxes`."""
    rows = await store.facts(since, time.time() + 1 if until is None else until, inboxes)
    ids, inbox_of = [row[0] for row in rows], {row[0]: row[2] for row in rows}
    found: list[Learned] = []
    for start in range(0, len(ids), LOG_BATCH):
        batch = ids[start:start + LOG_BATCH]
        logs = await store.events_of(batch)
        for cid in batch:
            found += learned_in(cid, logs.get(cid, []), inbox_of[cid])
        if progress:
            progress(min(start + LOG_BATCH, len(ids)), len(ids))
    return found


class Lessons(Searchable, Protocol):
    """What learning and forgetting need of knowledge.base.KnowledgeBase (blocking)."""

    def records(self, source: str | None = None, ids: Collection[str] | None = None) -> list[Record]: ...

    def remove_records(self, ids: Collection[str]) -> list[str]: ...

    def keep_out(self, ids: Collection[str]) -> None: ...

    def kept_out(self) -> set[str]: ...


def record_id(message_id: str) -> str:
    """The id of the record learned from a customer's message."""
    return f"{LEARNED_PREFIX}{message_id}"


def learned_records(found: Sequence[Learned], knowledge: Lessons, redactor: Redactor, *,
                    exclude: Collection[str] = (),
                    progress: Callable[[int, int], None] | None = None) -> tuple[list[Record], list[Learned]]:
    """(records to ingest, messages left out), blocking (it searches).

    The same words learned more than once are one record, of the intent they were confirmed for
    most often (the others are left out). Its resolution is that of the record of the intent
    nearest to the words. Intents in `exclude` (requests for a person: the handoff classifier
    learns those) are never learned, nor messages with no words left once redacted, nor those
    whose record id the knowledge base keeps out (a support lead took the record out: forget()),
    nor the same words confirmed for the same intent in another conversation."""
    kept_out = knowledge.kept_out()
    taken_out = {(_normal(i.text), i.intent) for i in found if record_id(i.message_id) in kept_out}
    by_words: dict[str, list[Learned]] = {}
    skipped: list[Learned] = []
    for item in found:
        if (_normal(item.text), item.intent) in taken_out:
            skipped.append(item)
        else:
            by_words.setdefault(_normal(item.text), []).append(item)
    records: list[Record] = []
    for done, items in enumerate(by_words.values(), 1):
        intent = Counter(i.intent for i in items).most_common(1)[0][0]
        item = next(i for i in items if i.intent == intent)
        record = None if intent in exclude else _record(item, knowledge, redactor)
        records += [record] if record is not None else []
        skipped += [i for i in items if i.intent != intent] + ([item] if record is None else [])
        if progress:
            progress(done, len(by_words))
    return records, skipped


def lessons(knowledge: Lessons, ids: Collection[str] | None = None) -> list[Record]:
    """The learned records (or those of these ids), newest first (blocking)."""
    return sorted(knowledge.records(LEARNED_SOURCE, ids), key=lambda r: (r.created_at, r.id), reverse=True)


def tag(record: Record, key: str) -> str:
    """The value of a record's `key:value` tag ("learned:rated" -> "rated"), "" without one."""
    return next((t.removeprefix(f"{key}:") for t in record.tags if t.startswith(f"{key}:")), "")


def forget(knowledge: Lessons, ids: Collection[str]) -> list[str]:
    """Take these learned records out and keep their ids out of every later `kb learn`
    (learned_records); returns those that were stored (blocking). Kept out first,
    so that a removal that fails half-way is not undone by the next run."""
    knowledge.keep_out(ids)
    return knowledge.remove_records(ids)


def _record(item: Learned, knowledge: Searchable, redactor: Redactor) -> Record | None:
    request = redactor.redact(item.text)
    nearest = knowledge.search(request, 1, filters={"intent": item.intent}) if request.strip() else []
    if not nearest or not nearest[0].record.resolution:
        return None
    model = nearest[0].record
    # The subject is the title an agent's list of sources shows: the history's words, not another
    # customer's (redaction takes out contacts and numbers, not everything a person may write). A
    # customer's list shows the intent's label (assistant.answering.sources_of).
    return Record(id=record_id(item.message_id), request=request, resolution=model.resolution,
                  subject=(model.subject or model.request)[:200], intent=item.intent,
                  category=model.category,
                  tags=(f"learned:{item.signal}", *([f"inbox:{item.inbox}"] if item.inbox else [])),
                  created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(item.at)),
                  source=LEARNED_SOURCE, kind="qa")
