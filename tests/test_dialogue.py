"""The dialogue manager over a real SQLite store: event order, media, handoff, agents, failures."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest

from assistant.dialogue import DialogueManager
from assistant.errors import ConversationError, InputError
from assistant.events import (
    AnswerCompleted,
    AnswerDelta,
    AnswerStarted,
    ErrorEvent,
    ImageText,
    StatusChanged,
    Suggestion,
    UserMessage,
    VoiceTranscript,
    fold_state,
)
from assistant.handoff_model import PersonClassifier
from assistant.llm.fake import FakeLLM
from assistant.ocr import OCRReader
from assistant.ports import TurnTrace
from assistant.speech.base import Transcript
from assistant.store.sqlite import SQLiteStore
from assistant.vision import NoImageReader
from knowledge.records import Hit, Record

SCREENSHOT = Path(__file__).parent / "data" / "abcd" / "faq_screenshot.png"

RECORDS = [
    Record(id="refund-1", request="I want a refund for my order", intent="get_refund", category="REFUND",
           resolution="Open Orders, pick the order and press Request refund."),
    Record(id="refund-2", request="how long does a refund take", intent="track_refund", category="REFUND",
           resolution="Refunds reach your account within 5 to 7 business days."),
    Record(id="member-1", request="what are the benefits of silver membership", intent="membership",
           category="ACCOUNT", resolution="Silver members get free shipping."),
    Record(id="human-1", request="I want to talk to a human agent", intent="contact_human_agent",
           category="CONTACT", resolution="I'll connect you with an agent."),
]


class FakeKnowledge:
    """A stand-in knowledge base: word overlap instead of embeddings, same Hit results."""

    def __init__(self, records: list[Record] = RECORDS) -> None:
        self.records = records
        self.queries: list[str] = []

    def search(self, query: str, k: int | None = None, *, audience: str = "customer",
               filters: dict[str, str] | None = None) -> list[Hit]:
        self.queries.append(query)
        words = set(re.findall(r"[a-z]+", query.lower()))
        scored = []
        for r in self.records:
            if audience == "customer" and r.audience == "internal":
                continue
            if filters and any(getattr(r, name) != value for name, value in filters.items()):
                continue
            mine = set(re.findall(r"[a-z]+", r.request.lower()))
            scored.append(Hit(record=r, score=len(words & mine) / max(len(mine), 1), text=r.resolution))
        return sorted(scored, key=lambda h: -h.score)[: k or 4]


class FakeSpeech:
    """A stand-in for SpeechService: every voice note says the same words."""

    def __init__(self, text: str, language: str = "en") -> None:
        self.text, self.language = text, language
        self.heard: list[bytes] = []

    async def transcribe(self, audio: bytes, *, language=None, vocabulary=()) -> Transcript:
        self.heard.append(audio)
        return Transcript(text=self.text, language=self.language, duration=2.5)


@pytest.fixture
def store(sqlite_store: SQLiteStore) -> SQLiteStore:
    return sqlite_store


PERSON = PersonClassifier()  # the shipped handoff classifier (real weights; loads on first use)


def manager(settings, store, llm=None, *, speech=None, reader=None, knowledge=None,
            **dialogue) -> DialogueManager:
    if dialogue:
        settings = settings.model_copy(update={"dialogue": settings.dialogue.model_copy(update=dialogue)})
    return DialogueManager(settings, store=store, knowledge=knowledge or FakeKnowledge(),
                           llm=llm or FakeLLM(["Press ", "Request ", "refund."]),
                           speech=speech, image_reader=reader or NoImageReader(), person=PERSON)


def said(cid: str, text: str = "", attachments: tuple[str, ...] = (), **kw) -> UserMessage:
    """What the customer sent, not stored yet (as a channel hands it to the dialogue)."""
    return UserMessage(conversation_id=cid, text=text, attachments=attachments, **kw)


async def run(dm: DialogueManager, turn: UserMessage, **kw) -> list:
    return [e async for e in dm.handle(turn, **kw)]


async def test_a_turn_streams_stored_events_in_order(settings, store) -> None:
    # A model slower than the store: every token is its own delta.
    dm = manager(settings, store, FakeLLM(["Press ", "Request ", "refund."], delay=0.02))
    conv = await dm.new_conversation()
    events = await run(dm, said(conv.id, "I want a refund for my order", client_msg_id="c1"))
    assert [type(e) for e in events] == [UserMessage, AnswerStarted, AnswerDelta, AnswerDelta, AnswerDelta,
                                         AnswerCompleted]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert await store.events(conv.id) == events  # the log is exactly what was yielded
    answer = events[-1]
    assert answer.text == "Press Request refund." and not answer.interrupted
    assert answer.sources[0].id == "refund-1" and answer.sources[0].intent == "get_refund"
    assert {d.message_id for d in events[1:]} == {answer.message_id}


class SlowStore:
    """The real store, each append slowed down like a loaded disk."""

    def __init__(self, store, delay: float) -> None:
        self.store, self.delay = store, delay

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def append(self, event):
        await asyncio.sleep(self.delay)
        return await self.store.append(event)

    async def append_many(self, events):
        await asyncio.sleep(self.delay)
        return await self.store.append_many(events)


async def test_text_that_arrives_while_the_store_is_busy_goes_out_as_one_delta(settings, store) -> None:
    tokens = [f"w{i} " for i in range(40)]
    dm = manager(settings, SlowStore(store, 0.05), FakeLLM(tokens, delay=0.002))
    conv = await dm.new_conversation()
    events = await run(dm, said(conv.id, "I want a refund for my order"))
    deltas = [e for e in events if isinstance(e, AnswerDelta)]
    assert 1 <= len(deltas) < len(tokens) / 2  # merged, not one write per token
    assert "".join(d.text for d in deltas) == "".join(tokens)
    assert events[-1].text == "".join(tokens).strip()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert await store.events(conv.id) == events


async def test_the_prompt_holds_references_and_the_previous_turns(settings, store) -> None:
    llm = FakeLLM(["ok"])
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "I want a refund for my order"))
    await run(dm, said(conv.id, "and how long will that take?"))
    request = llm.requests[-1]
    assert '<reference id="refund-2"' in request.messages[0].content
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "user"]
    assert request.messages[1].content == "I want a refund for my order"
    assert dm.knowledge.queries[-1].startswith("I want a refund for my order")  # follow-up resolved


async def test_a_voice_note_becomes_a_transcript_the_customer_sees(settings, store) -> None:
    speech = FakeSpeech("how long does a refund take")
    llm = FakeLLM(["Five days."])
    dm = manager(settings, store, llm, speech=speech)
    conv = await dm.new_conversation()
    audio = await store.put_attachment(conv.id, b"OggS fake opus bytes", "audio/ogg", "note.ogg")
    events = await run(dm, said(conv.id, attachments=(audio.id,)))
    assert [type(e) for e in events[:2]] == [UserMessage, VoiceTranscript]
    assert events[1].text == "how long does a refund take" and events[1].message_id == events[0].message_id
    assert speech.heard == [b"OggS fake opus bytes"]
    assert events[-1].sources[0].id == "refund-2"  # the transcript was the query
    assert "how long does a refund take" in llm.requests[0].messages[-1].content


async def test_the_answer_to_a_voice_note_follows_its_language(settings, store) -> None:
    llm = FakeLLM(["Fünf Tage."])
    # The fake knowledge base scores shared words: a German question shares none with its
    # English records, so the unsure rule is off here (unsure turns have their own tests).
    dm = manager(settings, store, llm, speech=FakeSpeech("wie lange dauert eine Erstattung", "de"),
                 min_score=0.0, unsure_margin=0.0)
    conv = await dm.new_conversation()
    audio = await store.put_attachment(conv.id, b"OggS fake opus bytes", "audio/ogg", "note.ogg")
    events = await run(dm, said(conv.id, attachments=(audio.id,)))
    assert events[1].language == "de"
    assert "answer in German" in llm.requests[0].messages[0].content


async def test_a_screenshot_is_read_and_joins_query_and_prompt(settings, store) -> None:
    llm = FakeLLM(["Free shipping."])
    dm = manager(settings, store, llm, reader=OCRReader())
    conv = await dm.new_conversation()
    image = await store.put_attachment(conv.id, SCREENSHOT.read_bytes(), "image/png", "faq.png")
    trace = TurnTrace()
    events = await run(dm, said(conv.id, "what do I get?", attachments=(image.id,)), trace=trace)
    assert [type(e) for e in events[:2]] == [UserMessage, ImageText]
    assert events[1].method == "ocr" and "Silver level member" in events[1].text
    assert "Silver level member" in trace.query
    assert trace.hits[0].id == "member-1"
    assert "<image_text>" in llm.requests[0].messages[-1].content


async def test_a_blank_image_alone_is_not_left_unanswered(settings, store) -> None:
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, "PNG")
    dm = manager(settings, store, reader=OCRReader())
    conv = await dm.new_conversation()
    image = await store.put_attachment(conv.id, blank.getvalue(), "image/png", "blank.png")
    events = await run(dm, said(conv.id, "", attachments=(image.id,)))
    assert [type(e) for e in events] == [UserMessage, ImageText, ErrorEvent]
    assert events[1].text == "" and events[2].code == "nothing_to_read"
    assert events[2].message_id == events[0].message_id and "type your question" in events[2].message


async def test_a_damaged_image_is_refused_without_internals_in_the_message(settings, store) -> None:
    dm = manager(settings, store, reader=OCRReader())
    conv = await dm.new_conversation()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    damaged = await store.put_attachment(conv.id, png, "image/png", "broken.png")
    events = await run(dm, said(conv.id, "", attachments=(damaged.id,)))
    error = next(e for e in events if isinstance(e, ErrorEvent))
    assert error.code.startswith("image_"), error
    assert not re.search(r"BytesIO|0x[0-9a-f]{6}|Traceback|identify image file", error.message), error.message


async def test_a_bad_image_is_refused_with_its_code_and_the_text_still_answered(settings, store) -> None:
    dm = manager(settings, store)
    conv = await dm.new_conversation()
    bad = await store.put_attachment(conv.id, b"%PDF-1.7 not an image", "image/png", "x.png")
    events = await run(dm, said(conv.id, "I want a refund for my order", attachments=(bad.id,)))
    assert isinstance(events[1], ErrorEvent) and events[1].code == "image_unsupported_type"
    assert isinstance(events[-1], AnswerCompleted)


async def test_asking_for_a_person_hands_off_with_the_reason(settings, store) -> None:
    llm = FakeLLM(["never said"])
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    events = await run(dm, said(conv.id, "can I talk to a real person please?"))
    assert [type(e) for e in events] == [UserMessage, StatusChanged]
    assert (events[1].state, events[1].reason) == ("waiting_human", "customer_request")
    assert events[1].detail.startswith("classifier ")  # stored: which signal fired, on what
    assert "real person" in events[1].detail
    assert (await store.get(conv.id)).handoff_reason == "customer_request"
    # While waiting, the customer's messages are kept but the bot stays quiet.
    later = await run(dm, said(conv.id, "hello? anyone?"))
    assert [type(e) for e in later] == [UserMessage]
    assert llm.requests == []


async def test_declining_a_person_is_not_searched_for(settings, store) -> None:
    """"I don't need an agent, ..." says how to help, not with what: searching it as well would
    pull the records about people up (the offer of a person, to a customer who declined one)."""
    knowledge = FakeKnowledge()
    dm = manager(settings, store, FakeLLM(["Refunds take 5 to 7 business days."]), knowledge=knowledge)
    conv = await dm.new_conversation()
    trace = TurnTrace()
    events = [e async for e in dm.handle(said(conv.id, "I don't need an agent, how long does a refund take?"),
                                         trace=trace)]
    assert trace.query == "how long does a refund take?" and not trace.decision.handoff
    assert events[-1].grounded and events[-1].text == "Refunds take 5 to 7 business days."


async def test_the_handoff_classifier_reads_the_message_with_its_typos_corrected(settings, store) -> None:
    """Misspelt, "need invoce for my purchace" read as a request for a person (the classifier: 0.87);
    with the history's own spelling, as the search reads it, it is a question about an invoice."""
    from knowledge.spelling import Speller, english_words

    class Spelling(FakeKnowledge):
        def __init__(self) -> None:
            invoice = Record(id="invoice-1", request="I need an invoice for my purchase",
                             intent="get_invoice", resolution="Open Orders, then Invoice.")
            super().__init__([*RECORDS, invoice])
            self.speller = Speller({"invoice": 400, "purchase": 300, "human": 200}, english_words())

        def correct(self, text: str) -> str:
            return self.speller.correct(text)

    assert PERSON.probabilities(["need invoce for my purchace"])[0] >= 0.5  # what it read before
    dm = manager(settings, store, FakeLLM(["Open ", "Orders."]), knowledge=Spelling())
    conv = await dm.new_conversation()
    events = await run(dm, said(conv.id, "need invoce for my purchace"))
    assert not any(isinstance(e, StatusChanged) and e.state == "waiting_human" for e in events)
    assert isinstance(events[-1], AnswerCompleted)
    handed = await run(dm, said((await dm.new_conversation()).id, "talk to humna"))
    assert (handed[-1].state, handed[-1].reason) == ("waiting_human", "customer_request")


async def test_a_phone_number_nobody_set_is_not_promised_but_said_to_be_missing(settings, store) -> None:
    """Real Bitext records: asked for the phone number, the history answers "I can definitely provide
    you with a phone number ... Here's the phone number: {{Customer Support Phone Number}}"; with no
    number in [company], that answer would promise it and never give it."""
    phone = Record(id="phone-1", request="do you have a phone number to contact customer support?",
                   intent="contact_customer_service", resolution=(
                       "I can definitely provide you with a phone number to contact our customer support "
                       "team. Here's the phone number:\n\n{{Customer Support Phone Number}}\n\nPlease "
                       "don't hesitate to call."))
    knowledge = FakeKnowledge([*RECORDS, phone])
    llm = FakeLLM(["Call ", "us."])
    dm = manager(settings, store, llm, knowledge=knowledge)
    conv = await dm.new_conversation()
    trace = TurnTrace()
    events = await run(dm, said(conv.id, "do you have a phone number for customer support?"), trace=trace)
    answer = events[-1]
    assert isinstance(answer, AnswerCompleted) and not answer.grounded and not answer.sources
    assert answer.text == ("I'm sorry, I don't have our phone number to give you here. "
                           "Shall I connect you with a person?")
    assert trace.unsure == "no_contact" and llm.requests == []
    yes = await run(dm, said(conv.id, "yes please"))  # the offer of a person holds
    assert (yes[-1].state, yes[-1].reason) == ("waiting_human", "customer_request")
    # with the number set, the history answers
    company = settings.company | {"customer_support_phone_number": "+1 555 0100"}
    dm = manager(settings.model_copy(update={"company": company}), store, FakeLLM(["Call ", "us."]),
                 knowledge=knowledge)
    other = await dm.new_conversation()
    events = await run(dm, said(other.id, "do you have a phone number for customer support?"))
    assert events[-1].grounded and events[-1].text == "Call us."


async def test_a_question_the_history_does_not_cover_is_answered_honestly(settings, store) -> None:
    llm = FakeLLM(["Refunds take 5 days."])
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    trace = TurnTrace()
    events = [e async for e in dm.handle(said(conv.id, "the blue widget squeaks at night"), trace=trace)]
    answer = events[-1]
    assert isinstance(answer, AnswerCompleted) and not answer.grounded and answer.sources == ()
    assert answer.text == settings.dialogue.unsure_answer and trace.unsure == "weak_match"
    assert llm.requests == []  # no record was put before the model: nothing to paraphrase wrongly
    covered = await run(dm, said(conv.id, "how long does a refund take"))
    assert covered[-1].grounded and covered[-1].text == "Refunds take 5 days."


# A real ABCD conversation (demo/abcd/abcd_sample.json, convo 3592): its agent's outcome was for that
# customer alone.
RETURN_CASE = Record(id="abcd:3592", request="I need to return an item, can you help me with that?",
                     intent="return_size", kind="transcript", source="abcd", resolution=(
                         "Unfortunately because it has been more than 90 days we cannot accept the return.\n"
                         "I have let my manager know, they will give you a call."),
                     transcript="customer: I need to return an item, can you help me with that? ...")
RETURN_STEPS = Record(id="ret-1", request="how do I return an item", intent="return_size",
                      resolution="Open Orders, pick the item and press Return.")


async def test_another_customers_conversation_is_never_read_as_the_answer(settings, store) -> None:
    llm = FakeLLM(["Open Orders, pick the item and press Return."])
    alone = manager(settings, store, llm, knowledge=FakeKnowledge([RETURN_CASE, *RECORDS]))
    trace = TurnTrace()
    conv = await alone.new_conversation()
    answer = (await run(alone, said(conv.id, "I need to return an item, can you help me with that?"),
                        trace=trace))[-1]
    assert isinstance(answer, AnswerCompleted) and answer.text == settings.dialogue.unsure_answer
    assert trace.unsure == "case_only" and not answer.grounded and llm.requests == []
    # a record written for anyone, of the same intent and near enough, answers instead; the
    # conversation is neither read to the model nor cited
    both = manager(settings, store, llm, knowledge=FakeKnowledge([RETURN_CASE, RETURN_STEPS, *RECORDS]))
    conv = await both.new_conversation()
    answer = (await run(both, said(conv.id, "I need to return an item, can you help me with that?")))[-1]
    assert isinstance(answer, AnswerCompleted) and answer.grounded
    cited = [s.id for s in answer.sources]
    assert cited[:1] == ["ret-1"] and "abcd:3592" not in cited
    assert "90 days" not in str(llm.requests[-1])
    # an operator who lets transcripts answer gets what they had
    kinds = manager(settings, store, llm, knowledge=FakeKnowledge([RETURN_CASE, *RECORDS]),
                    answer_kinds=["qa", "policy", "transcript"])
    conv = await kinds.new_conversation()
    answer = (await run(kinds, said(conv.id, "I need to return an item, can you help me with that?")))[-1]
    assert [s.id for s in answer.sources][:1] == ["abcd:3592"]


class DilutingKnowledge(FakeKnowledge):
    """Jaccard overlap: like an embedding, a long story around a question matches it weakly."""

    def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> list[Hit]:
        self.queries.append(query)
        words = set(re.findall(r"[a-z]+", query.lower()))
        scored = [Hit(record=r, score=len(words & (mine := set(re.findall(r"[a-z]+", r.request.lower()))))
                      / len(words | mine), text=r.resolution) for r in self.records]
        return sorted(scored, key=lambda h: -h.score)[: k or 4]


async def test_a_question_inside_a_story_is_answered_from_its_own_sentence(settings, store) -> None:
    knowledge = DilutingKnowledge()
    dm = manager(settings, store, FakeLLM(["Refunds take 5 to 7 business days."]), knowledge=knowledge)
    conv = await dm.new_conversation()
    trace = TurnTrace()
    story = ("I sent the kettle back on the 2nd and got an email saying it arrived at your warehouse. "
             "How long does a refund take?")
    events = [e async for e in dm.handle(said(conv.id, story), trace=trace)]
    assert knowledge.search(story)[0].score < settings.dialogue.min_score  # the whole is diluted
    assert events[-1].grounded and events[-1].sources[0].id == "refund-2"
    assert trace.query == "How long does a refund take?" and trace.unsure == ""
    # A story with no sentence the history answers stays unsure.
    trace = TurnTrace()
    events = [e async for e in dm.handle(said(conv.id, "The blue widget squeaks at night. It also rattles "
                                                       "in the morning when it is cold."), trace=trace)]
    assert trace.unsure == "weak_match" and not events[-1].grounded


async def test_a_screenshot_s_sentences_are_not_searched_one_by_one(settings, store) -> None:
    # The FAQ page in the screenshot has many sentences; one of them matching a record does not
    # make it the customer's question: only their own sentences are searched alone.
    knowledge = DilutingKnowledge()
    dm = manager(settings, store, knowledge=knowledge, reader=OCRReader())
    conv = await dm.new_conversation()
    image = await store.put_attachment(conv.id, SCREENSHOT.read_bytes(), "image/png", "faq.png")
    trace = TurnTrace()
    await run(dm, said(conv.id, "Please look at this. What does my level mean for returns?",
                       attachments=(image.id,)), trace=trace)
    assert trace.unsure == "weak_match"
    assert set(knowledge.queries[1:]) == {"Please look at this.", "What does my level mean for returns?"}


async def test_two_equally_near_records_of_different_intents_are_unsure(settings, store) -> None:
    refunds = [r for r in RECORDS if r.id.startswith("refund")]
    dm = manager(settings, store, knowledge=FakeKnowledge(refunds), min_score=0.3, unsure_margin=0.05)
    conv = await dm.new_conversation()
    trace = TurnTrace()
    # "refund" and "a" are shared with both records, and nothing else: either answer is a guess
    events = [e async for e in dm.handle(said(conv.id, "a refund"), trace=trace, answer=False)]
    assert trace.unsure == "disagree" and [e.type for e in events] == ["message"]


async def test_internal_records_are_never_searched_for_a_customer(settings, store) -> None:
    guideline = Record(id="g-1", request="refund policy for agents", audience="internal", intent="get_refund",
                       resolution="Select the [Offer Refund] option, then [End Conversation].")
    knowledge = FakeKnowledge([*RECORDS, guideline])
    dm = manager(settings, store, FakeLLM(["Open Orders and press Request refund."]), knowledge=knowledge)
    conv = await dm.new_conversation()
    events = await run(dm, said(conv.id, "refund policy for agents"))
    assert all(s.id != "g-1" for s in events[-1].sources)
    await dm.take_over(conv.id, "alice")
    (suggestion,) = [e async for e in dm.suggest(conv.id)]
    assert suggestion.internal and suggestion.sources[0].id == "g-1"


async def test_two_weak_turns_in_a_row_hand_off(settings, store) -> None:
    dm = manager(settings, store, min_score=0.45, low_confidence_turns=2)
    conv = await dm.new_conversation()
    first = await run(dm, said(conv.id, "the blue widget squeaks at night"))
    assert isinstance(first[-1], AnswerCompleted)  # the first weak turn is still answered (unsure)
    assert not first[-1].grounded
    second = await run(dm, said(conv.id, "my gizmo is purple now"))
    assert isinstance(second[-1], StatusChanged)
    assert (second[-1].state, second[-1].reason) == ("waiting_human", "low_confidence")


async def test_yes_to_the_offer_of_a_person_hands_over_because_the_customer_asked(settings, store) -> None:
    dm = manager(settings, store, min_score=0.45, low_confidence_turns=3)
    conv = await dm.new_conversation()
    offer = (await run(dm, said(conv.id, "the blue widget squeaks at night")))[-1]
    assert isinstance(offer, AnswerCompleted) and not offer.grounded and "person" in offer.text
    yes = await run(dm, said(conv.id, "yes please"))
    assert isinstance(yes[-1], StatusChanged)
    assert (yes[-1].state, yes[-1].reason) == ("waiting_human", "customer_request")
    assert yes[-1].detail == "accepted the offer of a person: yes please"


async def test_no_to_the_offer_is_acknowledged_and_starts_a_new_run_of_weak_turns(settings, store) -> None:
    """Before, "no thanks" was itself a weak turn: the second in a row, it handed over."""
    dm = manager(settings, store, min_score=0.45, low_confidence_turns=2)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "the blue widget squeaks at night"))
    no = await run(dm, said(conv.id, "no thanks, I'm good"))
    assert isinstance(no[-1], AnswerCompleted) and no[-1].text == settings.dialogue.declined_answer
    assert not no[-1].sources and await dm._state(conv.id) == "bot"
    weak = await run(dm, said(conv.id, "my gizmo is purple now"))  # the first weak turn of a new run
    assert isinstance(weak[-1], AnswerCompleted) and not weak[-1].grounded
    again = await run(dm, said(conv.id, "and the gadget hums"))
    assert (again[-1].state, again[-1].reason) == ("waiting_human", "low_confidence")


async def test_no_and_a_question_answers_the_question(settings, store) -> None:
    dm = manager(settings, store, min_score=0.45, low_confidence_turns=2)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "the blue widget squeaks at night"))
    events = await run(dm, said(conv.id, "No. How long does a refund take?"))
    assert isinstance(events[-1], AnswerCompleted) and events[-1].grounded
    assert events[-1].sources[0].id == "refund-2"


async def test_details_an_answer_asked_for_go_to_a_person_who_can_use_them(settings, store) -> None:
    """The history's answer asks for the order number (its agent looked orders up). Before, the
    number alone matched nothing and the customer read "I don't have information on that"."""
    from assistant.llm.extractive import ExtractiveBackend

    asks = Record(id="refund-3", request="where is my refund", intent="track_refund", category="REFUND",
                  resolution="Could you please provide your order number? With it, I'll check your refund.")
    dm = manager(settings, store, ExtractiveBackend(), knowledge=FakeKnowledge([*RECORDS, asks]),
                 min_score=0.45, low_confidence_turns=3)
    conv = await dm.new_conversation()
    first = (await run(dm, said(conv.id, "where is my refund")))[-1]
    assert first.grounded and first.sources[0].id == "refund-3"
    looked_up = (await run(dm, said(conv.id, "it's ORD-77120")))[-1]
    assert isinstance(looked_up, AnswerCompleted) and not looked_up.grounded
    assert looked_up.text == settings.dialogue.lookup_answer
    yes = (await run(dm, said(conv.id, "yes please")))[-1]
    assert (yes.state, yes.reason) == ("waiting_human", "customer_request")
    # an answer that asked for nothing: a number is an ordinary message
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "how long does a refund take"))
    assert (await run(dm, said(conv.id, "it's ORD-77120")))[-1].text != settings.dialogue.lookup_answer


# Real Bitext track_refund resolutions: 144 of its 193 ask for details "to track the status"
ASKS_REFUND = ("I understand your concern about the refund. In order to provide you with the most accurate "
               "information regarding the status of your refund, I kindly request you to provide me with "
               "your order number and the date of purchase. With this information, I will be able to track "
               "the status of your refund and provide you with an update.")
SHOWS_REFUND = ("I understand that you're unsure about how to check the status of your refund. Allow me "
                "to assist you with that:\n\n1. Firstly, log into your account on our {{Website Name}}.\n"
                "2. Then, locate and click on the Refund Status section.\n3. Enter the relevant details, "
                "such as the transaction amount.\n4. Once the details are entered, the system will "
                "display the current status of your refund.")


async def test_an_answer_that_would_only_ask_for_details_chooses_among_more_records_of_its_intent(
        settings, store) -> None:
    from assistant.compose import asks_for_details
    from assistant.llm.extractive import ExtractiveBackend

    records = [*(Record(id=f"asks-{i}", request="has my refund been processed", intent="track_refund",
                        category="REFUND", resolution=ASKS_REFUND) for i in range(5)),
               Record(id="shows", request="has my refund been processed", intent="track_refund",
                      category="REFUND", resolution=SHOWS_REFUND),
               Record(id="cancel", request="has my order been cancelled", intent="cancel_order",
                      category="ORDER", resolution="Your order can be cancelled from Order History.")]
    question = "Has my refund been processed yet?"
    narrow = manager(settings, store, ExtractiveBackend(), knowledge=FakeKnowledge(records), compose_k=0)
    asked = (await run(narrow, said((await narrow.new_conversation()).id, question)))[-1]
    assert asks_for_details(asked.text) and [s.id for s in asked.sources] == [f"asks-{i}" for i in range(4)]
    knowledge = FakeKnowledge(records)
    dm = manager(settings, store, ExtractiveBackend(), knowledge=knowledge)  # compose_k 50 by default
    answer = (await run(dm, said((await dm.new_conversation()).id, question)))[-1]
    assert answer.grounded and answer.text.startswith("Allow me to assist you with that:")
    assert "shows" in [s.id for s in answer.sources] and "cancel" not in [s.id for s in answer.sources]
    assert len(knowledge.queries) == 2  # the second search only because the first answer would ask
    plain_kb = FakeKnowledge(records[-2:])  # the best record says what to do: one search
    plain = manager(settings, store, ExtractiveBackend(), knowledge=plain_kb)
    await run(plain, said((await plain.new_conversation()).id, question))
    assert len(plain_kb.queries) == 1


async def test_a_backend_that_reads_no_prompt_chooses_among_every_record_searched(settings, store) -> None:
    """The model's context budget does not cut the records the composer may choose from: the first
    that says what to do lies behind 45 that ask, as "I returned the jacket 2 weeks ago, when will I see
    the money?" found it behind 24 in the demo history."""
    from assistant.compose import asks_for_details
    from assistant.llm.extractive import ExtractiveBackend

    records = [*(Record(id=f"asks-{i}", request="has my refund been processed", intent="track_refund",
                        category="REFUND", resolution=ASKS_REFUND) for i in range(45)),
               Record(id="shows", request="has my refund been processed", intent="track_refund",
                      category="REFUND", resolution=SHOWS_REFUND)]
    dm = manager(settings, store, ExtractiveBackend(), knowledge=FakeKnowledge(records))
    answer = (await run(dm, said((await dm.new_conversation()).id, "Has my refund been processed yet?")))[-1]
    assert answer.grounded and not asks_for_details(answer.text)
    assert "shows" in [s.id for s in answer.sources]


class NearestFirst:
    """Two likely intents for every question, the nearest record of each found; a search filtered by
    intent returns k of its records, nearest first."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.filtered: list[int | None] = []

    def search(self, query: str, k: int | None = None, *, audience: str = "customer",
               filters: dict | None = None) -> list[Hit]:
        likeliest = (("track_refund", 0.5), ("get_refund", 0.42))
        if filters:
            self.filtered.append(k)
            found = [r for r in self.records if r.intent == filters["intent"]][:k]
        else:  # the nearest of each intent
            found = [next(r for r in self.records if r.intent == i) for i, _ in likeliest]
        return [Hit(record=r, score=0.7 - i / 100, text=r.resolution, intents=likeliest)
                for i, r in enumerate(found)]


async def test_the_chosen_intent_is_answered_from_a_record_that_says_what_to_do_too(settings, store) -> None:
    """After "the first one", the chosen intent's nearest records only ask for the order number: a
    farther one of that intent answers, as for a question answered at once."""
    from assistant.compose import asks_for_details
    from assistant.llm.extractive import ExtractiveBackend

    records = [*(Record(id=f"asks-{i}", request="has my refund been processed", intent="track_refund",
                        category="REFUND", resolution=ASKS_REFUND) for i in range(5)),
               Record(id="shows", request="has my refund been processed", intent="track_refund",
                      category="REFUND", resolution=SHOWS_REFUND),
               Record(id="get", request="I want a refund", intent="get_refund", category="REFUND",
                      resolution="You can request a refund from Order History.")]
    knowledge = NearestFirst(records)
    dm = manager(settings, store, ExtractiveBackend(), knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    asked = (await run(dm, said(conv.id, "you said 5 days, it's been 12 and nothing on my card")))[-1]
    assert [o.intent for o in asked.options] == ["track_refund", "get_refund"]
    answer = (await run(dm, said(conv.id, "the first one")))[-1]
    assert answer.grounded and not asks_for_details(answer.text)
    assert answer.text.startswith("Allow me to assist you with that:")
    assert "shows" in [s.id for s in answer.sources]
    assert knowledge.filtered == [settings.dialogue.retrieve_k, settings.dialogue.compose_k]


class ScriptedKnowledge:
    """Hits by query, as scripted: the dialogue's decision on them is under test, not retrieval."""

    def __init__(self, script: dict[str, list[tuple[str, float]]]) -> None:
        self.script = script
        self.by_id = {r.id: r for r in RECORDS}

    def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> list[Hit]:
        return [Hit(record=self.by_id[rid], score=score, text=self.by_id[rid].resolution)
                for rid, score in self.script.get(query, [("member-1", 0.2)])]


async def test_a_request_for_a_person_the_classifier_missed_is_asked_not_answered(settings, store) -> None:
    """The nearest record is the history's answer to "I want a person" ("I'll connect you with an
    agent."): said without a handoff it would be false, so the assistant asks."""
    knowledge = ScriptedKnowledge({"is anybody there": [("human-1", 0.8), ("refund-1", 0.3)]})
    dm = DialogueManager(settings, store=store, knowledge=knowledge, llm=FakeLLM(["I'll connect you."]),
                         speech=None, image_reader=NoImageReader(), person=None)  # no classifier: it misses
    conv = await dm.new_conversation()
    trace = TurnTrace()
    offer = (await run(dm, said(conv.id, "is anybody there"), trace=trace))[-1]
    assert isinstance(offer, AnswerCompleted) and not offer.grounded and trace.unsure == "person_record"
    assert offer.text == settings.dialogue.offer_answer
    yes = (await run(dm, said(conv.id, "yes please")))[-1]
    assert (yes.state, yes.reason) == ("waiting_human", "customer_request")


async def test_yes_without_an_offer_is_an_ordinary_message(settings, store) -> None:
    dm = manager(settings, store, min_score=0.45, low_confidence_turns=3)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "I want a refund for my order"))  # answered: no offer made
    events = await run(dm, said(conv.id, "yes please"))
    assert not any(isinstance(e, StatusChanged) for e in events)


async def test_with_an_agent_in_charge_the_bot_only_drafts_suggestions(settings, store) -> None:
    llm = FakeLLM(["Refunds take 5 days."])
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    taken = await dm.take_over(conv.id, "alice")
    assert (taken[0].state, taken[0].agent) == ("human", "alice")
    events = await run(dm, said(conv.id, "how long does a refund take"))
    assert [type(e) for e in events] == [UserMessage, Suggestion]
    assert events[1].text == "Refunds take 5 days." and events[1].sources[0].id == "refund-2"
    assert not any(isinstance(e, AnswerStarted) for e in await store.events(conv.id))
    # Handed back, the bot answers again.
    await dm.hand_back(conv.id, "alice")
    again = await run(dm, said(conv.id, "how long does a refund take"))
    assert isinstance(again[-1], AnswerCompleted)


async def test_agent_operations_follow_the_allowed_transitions(settings, store) -> None:
    dm = manager(settings, store)
    conv = await dm.new_conversation()
    assert (await dm.request_handoff(conv.id, "customer_request"))[0].state == "waiting_human"
    assert await dm.request_handoff(conv.id) == []  # already waiting: nothing new
    reply = await dm.agent_reply(conv.id, "bob", "Hi, Bob here.")
    assert [e.type for e in reply] == ["status", "agent_message"]  # replying takes over
    assert (await dm.close(conv.id, "bob"))[0].state == "closed"
    with pytest.raises(ConversationError) as err:
        await dm.hand_back(conv.id, "bob")
    assert err.value.code == "bad_transition"
    # The customer writing again reopens the conversation with the bot.
    events = await run(dm, said(conv.id, "I want a refund for my order"))
    assert (events[1].state, events[1].reason) == ("bot", "reopened")
    assert fold_state(await store.events(conv.id)) == "bot"


async def test_suggest_drafts_for_the_last_customer_message(settings, store) -> None:
    dm = manager(settings, store, FakeLLM(["Draft"]))
    conv = await dm.new_conversation()
    await dm.request_handoff(conv.id)
    await run(dm, said(conv.id, "I want a refund for my order"))
    (suggestion,) = [e async for e in dm.suggest(conv.id)]
    assert isinstance(suggestion, Suggestion) and suggestion.sources[0].id == "refund-1"


async def test_a_customer_sees_what_a_source_is_about_never_another_customer_s_words(settings, store) -> None:
    """A history's requests are its customers' words: an answer's sources are titled by their
    intent's label (or as a resolved case) for the customer, a policy by its heading; the agent's
    draft shows the request, as the console's search does."""
    records = [Record(id="t-1", request="Jane Miller here, I want a refund for my order of the blue lamp",
                      intent="get_refund", category="REFUND", resolution="Press Request refund."),
               Record(id="t-2", request="my order of the blue lamp arrived broken, Jane", category="ORDER",
                      resolution="Send us a photo and we replace it."),
               Record(id="p-1", request="Refunds", subject="Returns / Refunds", kind="policy",
                      resolution="We refund within 30 days of delivery.")]
    dm = manager(settings.model_copy(update={"dialogue": settings.dialogue.model_copy(
        update={"min_score": 0.1, "unsure_margin": 0.0, "clarify_margin": 0.0})}),
        store, FakeLLM(["Press Request refund."]), knowledge=FakeKnowledge(records))
    conv = await dm.new_conversation()
    events = await run(dm, said(conv.id, "I want a refund for my order of the blue lamp"))
    answer = events[-1]
    assert isinstance(answer, AnswerCompleted) and answer.grounded
    assert {s.id: s.title for s in answer.sources} == {
        "t-1": "asking for a refund",  # dialogue.intent_labels
        "t-2": "a resolved case",  # no intent
        "p-1": "Returns / Refunds"}  # a policy's heading
    await dm.request_handoff(conv.id)
    (suggestion,) = [e async for e in dm.suggest(conv.id)]
    assert "Jane Miller" in suggestion.sources[0].title  # agents see the history as it is


async def test_consumer_going_away_stops_generation_and_keeps_what_was_said(settings, store) -> None:
    llm = FakeLLM(["one ", "two ", "three ", "four "], delay=0.01)
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    stream = dm.handle(said(conv.id, "I want a refund for my order"))
    deltas = 0
    async for event in stream:
        deltas += isinstance(event, AnswerDelta)
        if deltas == 2:
            break
    await stream.aclose()
    last = (await store.events(conv.id))[-1]
    assert isinstance(last, AnswerCompleted) and last.interrupted and last.text == "one two "
    assert llm.closed_early == 1 and llm.yielded == 2


async def test_a_cancelled_turn_stores_an_interrupted_answer(settings, store) -> None:
    llm = FakeLLM(["a ", "b ", "c "], delay=0.2)
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    seen: list = []

    async def consume() -> None:
        async for event in dm.handle(said(conv.id, "I want a refund for my order")):
            seen.append(event)

    task = asyncio.create_task(consume())
    while not any(isinstance(e, AnswerDelta) for e in seen):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    last = (await store.events(conv.id))[-1]
    assert isinstance(last, AnswerCompleted) and last.interrupted and last.text.startswith("a ")


async def test_a_model_error_ends_the_turn_with_an_error_event(settings, store) -> None:
    dm = manager(settings, store, FakeLLM(["Hel", "lo"], fail_after=1))
    conv = await dm.new_conversation()
    events = await asyncio.wait_for(run(dm, said(conv.id, "I want a refund for my order")), timeout=10)
    assert [type(e) for e in events] == [UserMessage, AnswerStarted, AnswerDelta, ErrorEvent]
    error = events[-1]
    assert error.code == "model_error"
    # One name per meaning: the question is message_id, the answer it ended is answer_id.
    assert (error.message_id, error.answer_id) == (events[0].message_id, events[1].message_id)
    assert "failed" in events[-1].message


async def test_a_resent_message_is_not_processed_twice(settings, store) -> None:
    llm = FakeLLM(["ok"])
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    first = await run(dm, said(conv.id, "I want a refund for my order", client_msg_id="abc"))
    again = await run(dm, said(conv.id, "I want a refund for my order", client_msg_id="abc"))
    assert again == [first[0]]
    assert len(llm.requests) == 1 and len(await store.events(conv.id)) == len(first)


async def test_a_resend_of_a_question_cut_off_by_a_restart_is_answered(settings, store) -> None:
    """The worker died after storing the message; the recovery sweep closed the turn as
    interrupted; the widget resends with the same client_msg_id: answered now, stored once."""
    llm = FakeLLM(["Refunds take 5 days."])
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    stored = await store.append(UserMessage(conversation_id=conv.id, message_id="u1", client_msg_id="abc",
                                            text="I want a refund for my order"))
    await store.append(ErrorEvent(conversation_id=conv.id, code="interrupted", message_id="u1",
                                  message="We restarted before answering this message."))
    again = await run(dm, said(conv.id, "I want a refund for my order", client_msg_id="abc"))
    assert again[0] == stored and isinstance(again[-1], AnswerCompleted)
    assert again[-1].text == "Refunds take 5 days."
    asked = [m for m in llm.requests[0].messages if m.role == "user"]
    assert [m.content for m in asked] == ["I want a refund for my order"]  # not its own history too
    log = await store.events(conv.id)
    assert sum(isinstance(e, UserMessage) for e in log) == 1
    assert await run(dm, said(conv.id, "I want a refund for my order", client_msg_id="abc")) == [stored]


async def test_two_copies_of_a_message_sent_at_once_get_one_answer(settings, store) -> None:
    llm = FakeLLM(["ok"], delay=0.01)
    dm = manager(settings, store, llm)
    conv = await dm.new_conversation()
    turn = said(conv.id, "I want a refund for my order", client_msg_id="twice")
    await asyncio.gather(run(dm, turn), run(dm, turn))  # both pass the "seen before?" check
    log = await store.events(conv.id)
    assert len(llm.requests) == 1
    assert [e.type for e in log].count("message") == 1 and [e.type for e in log].count("answer") == 1


async def test_feedback_on_an_answer_is_stored(settings, store) -> None:
    dm = manager(settings, store)
    conv = await dm.new_conversation()
    answer = (await run(dm, said(conv.id, "I want a refund for my order")))[-1]
    (fb,) = await dm.feedback(conv.id, answer.message_id, "up")
    assert (fb.type, fb.rating, fb.message_id) == ("feedback", "up", answer.message_id)
    with pytest.raises(ConversationError) as err:
        await dm.feedback(conv.id, "nope", "down")
    assert err.value.code == "message_not_found"
    with pytest.raises(InputError):
        await dm.feedback(conv.id, answer.message_id, "meh")


async def test_an_empty_turn_is_refused_before_anything_is_stored(settings, store) -> None:
    dm = manager(settings, store)
    conv = await dm.new_conversation()
    with pytest.raises(InputError) as err:
        await run(dm, said(conv.id, "   "))
    assert err.value.code == "empty_message" and await store.events(conv.id) == []


async def test_a_text_turn_is_searched_once_and_a_waiting_one_not_at_all(settings, store) -> None:
    knowledge = FakeKnowledge()
    dm = manager(settings, store, knowledge=knowledge)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "I want a refund for my order"))
    assert knowledge.queries == ["I want a refund for my order"]  # started early, used once
    await dm.request_handoff(conv.id)
    events = await run(dm, said(conv.id, "hello? anyone there?"))
    assert [e.type for e in events] == ["message"]  # waiting for a person: no search, no answer
    assert knowledge.queries == ["I want a refund for my order"]


async def test_a_text_turn_is_searched_while_its_message_is_being_stored(settings, store) -> None:
    import time

    class Timed(FakeKnowledge):
        def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> list[Hit]:
            self.started = time.monotonic()
            return super().search(query, k, audience=audience)

    class SlowAppend(SlowStore):
        async def append(self, event):
            stored = await super().append(event)
            if isinstance(stored, UserMessage):
                self.message_stored = time.monotonic()
            return stored

    knowledge, slow = Timed(), SlowAppend(store, 0.2)
    dm = manager(settings, slow, knowledge=knowledge)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "I want a refund for my order"))
    assert knowledge.started < slow.message_stored  # the search did not wait for the write


async def test_a_turn_reads_the_store_once_before_its_search(settings, store) -> None:
    """Each read waits a round trip to the store's thread before the search can start."""
    class CountingStore(SlowStore):
        reads_before_search: int | None = None

        def __init__(self, store) -> None:
            super().__init__(store, 0.0)
            self.reads = 0

        def __getattr__(self, name):
            attr = getattr(self.store, name)
            if name in ("get", "events", "find_client_message", "list"):
                async def read(*args, **kwargs):
                    self.reads += 1
                    return await attr(*args, **kwargs)
                return read
            return attr

    counting = CountingStore(store)

    class Noting(FakeKnowledge):
        def search(self, query: str, k: int | None = None, *, audience: str = "customer") -> list[Hit]:
            if counting.reads_before_search is None:
                counting.reads_before_search = counting.reads
            return super().search(query, k, audience=audience)

    dm = manager(settings, counting, knowledge=Noting())
    conv = await dm.new_conversation()
    trace = TurnTrace()
    events = [e async for e in dm.handle(said(conv.id, "I want a refund for my order", client_msg_id="m1"),
                                         trace=trace)]
    assert counting.reads_before_search == 1
    assert trace.last_seq == 0 and events[0].seq == 1  # the seq the turn's events follow
    second = TurnTrace()
    again = [e async for e in dm.handle(said(conv.id, "and where is it?"), trace=second)]
    assert second.last_seq == events[-1].seq and again[0].seq == second.last_seq + 1


async def test_the_reference_cap_is_a_cost_the_extractive_backend_does_not_pay(settings, store) -> None:
    """A prompt-reading model gets the best record alone under a small cap; the extractive backend
    reads no prompt, so it chooses among every retrieved record (and cites them)."""
    from assistant.llm.extractive import ExtractiveBackend

    model = FakeLLM(["Press ", "refund."])
    dm = manager(settings, store, model, reference_tokens=5)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "how long does a refund take for my order"))
    assert len(model.requests[0].references) == 1
    dm = manager(settings, store, ExtractiveBackend(), reference_tokens=5)
    conv = await dm.new_conversation()
    answer = (await run(dm, said(conv.id, "how long does a refund take for my order")))[-1]
    assert isinstance(answer, AnswerCompleted) and len(answer.sources) > 1
    assert answer.text == "Refunds reach your account within 5 to 7 business days."


class UnsureOfIntent:
    """Hits with the intent head's view of each query, as scripted ("likeliest"), and searches
    filtered by intent (the clarified question is searched among the chosen intent's records)."""

    def __init__(self, script: dict[str, tuple[list[tuple[str, float]], tuple[tuple[str, float], ...]]],
                 ) -> None:
        self.script = script
        self.by_id = {r.id: r for r in RECORDS}
        self.filtered: list[tuple[str, dict]] = []

    def search(self, query: str, k: int | None = None, *, audience: str = "customer",
               filters: dict | None = None) -> list[Hit]:
        if filters:
            self.filtered.append((query, filters))
            return [Hit(record=r, score=0.5, text=r.resolution) for r in RECORDS
                    if r.intent == filters["intent"]]
        found, likeliest = self.script.get(query, ([("member-1", 0.2)], ()))
        return [Hit(record=self.by_id[rid], score=score, text=self.by_id[rid].resolution, intents=likeliest)
                for rid, score in found]


REFUND_OR_WAIT = {"I returned it, what about my money": (
    [("refund-1", 0.7), ("refund-2", 0.68)],
    (("get_refund", 0.5), ("track_refund", 0.42), ("membership", 0.08)))}
LABELLED = {"intent_labels": {"get_refund": "asking for a refund", "track_refund": "where your refund is"}}


async def test_two_likely_intents_are_asked_about_and_the_choice_is_answered_from_its_records(
        settings, store) -> None:
    knowledge = UnsureOfIntent(REFUND_OR_WAIT)
    dm = manager(settings, store, llm=FakeLLM(["Refunds reach your account within 5 to 7 business days."]),
                 knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    trace = TurnTrace()
    asked = (await run(dm, said(conv.id, "I returned it, what about my money"), trace=trace))[-1]
    assert isinstance(asked, AnswerCompleted) and not asked.grounded and not asked.sources
    assert asked.text == ("Just to be sure: is your question about asking for a refund, "
                          "or where your refund is?")
    assert [o.intent for o in asked.options] == ["get_refund", "track_refund"]
    assert trace.options == asked.options
    stored = [e for e in await store.events(conv.id) if isinstance(e, AnswerCompleted)][-1]
    assert stored.options == asked.options  # kept in the log: the next turn reads it there
    trace = TurnTrace()
    answer = (await run(dm, said(conv.id, "the second one"), trace=trace))[-1]
    assert trace.chosen == "track_refund"
    assert knowledge.filtered == [("I returned it, what about my money", {"intent": "track_refund"})]
    assert isinstance(answer, AnswerCompleted) and answer.grounded
    assert [s.id for s in answer.sources] == ["refund-2"]


async def test_neither_is_the_history_having_no_answer_and_yes_is_no_handoff(settings, store) -> None:
    dm = manager(settings, store, knowledge=UnsureOfIntent(REFUND_OR_WAIT), **LABELLED)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "I returned it, what about my money"))
    trace = TurnTrace()
    neither = (await run(dm, said(conv.id, "neither of them"), trace=trace))[-1]
    assert (neither.text, neither.grounded, trace.unsure) == (settings.dialogue.unsure_answer, False,
                                                              "declined_options")
    # A yes to two options chooses nothing, and is not a yes to the offer of a person.
    other = await dm.new_conversation()
    await run(dm, said(other.id, "I returned it, what about my money"))
    events = await run(dm, said(other.id, "yes"))
    assert not any(isinstance(e, StatusChanged) for e in events)


async def test_no_and_a_question_of_its_own_is_searched_as_that_question(settings, store) -> None:
    knowledge = UnsureOfIntent(REFUND_OR_WAIT)
    dm = manager(settings, store, knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "I returned it, what about my money"))
    trace = TurnTrace()
    await run(dm, said(conv.id, "no, what are the benefits of silver membership?"), trace=trace)
    assert trace.chosen == "" and not knowledge.filtered
    assert trace.query.startswith("what are the benefits of silver membership")


async def test_a_message_of_its_own_after_a_clarifying_question_is_searched_once_on_its_own(
        settings, store) -> None:
    """Not a follow-up of the ambiguous question, and the search that read the reply is the one used."""
    knowledge = UnsureOfIntent(REFUND_OR_WAIT)
    searched: list[str] = []
    search = knowledge.search
    knowledge.search = lambda query, k=None, **kw: searched.append(query) or search(query, k, **kw)  # type: ignore[method-assign]
    dm = manager(settings, store, knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    await run(dm, said(conv.id, "I returned it, what about my money"))
    searched.clear()
    trace = TurnTrace()
    await run(dm, said(conv.id, "what are the benefits of silver membership"), trace=trace)
    assert trace.chosen == "" and trace.query == "what are the benefits of silver membership"
    assert searched == ["what are the benefits of silver membership"]


async def test_a_weak_record_with_a_very_likely_intent_is_confirmed_then_answered(settings, store) -> None:
    knowledge = UnsureOfIntent({"can i has my cash back plz": (
        [("member-1", 0.3), ("refund-1", 0.28)], (("get_refund", 0.95), ("track_refund", 0.03)))})
    dm = manager(settings, store, knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    asked = (await run(dm, said(conv.id, "can i has my cash back plz")))[-1]
    assert asked.text == "Just to be sure: is your question about asking for a refund?"
    answer = (await run(dm, said(conv.id, "yes")))[-1]
    assert isinstance(answer, AnswerCompleted) and [s.id for s in answer.sources] == ["refund-1"]
    # the clarifying question was not a weak turn: nothing was handed over
    assert fold_state(await store.events(conv.id)) == "bot"


async def test_an_intent_the_head_is_sure_of_that_the_search_missed_is_looked_up_and_asked_about(
        settings, store) -> None:
    """"I sent the lamp back two weeks ago, when do I get paid back?": the head is sure of where a
    refund is (1.0); the records found are of asking for one. The sure intent's own records are
    searched for and offered beside the nearest one; the choice is answered from its records."""
    knowledge = UnsureOfIntent({"when do I get paid back": (
        [("refund-1", 0.62)], (("track_refund", 1.0), ("get_refund", 0.0)))})
    dm = manager(settings, store, knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    trace = TurnTrace()
    asked = (await run(dm, said(conv.id, "when do I get paid back"), trace=trace))[-1]
    assert asked.text == ("Just to be sure: is your question about where your refund is, "
                          "or asking for a refund?")
    assert ("when do I get paid back", {"intent": "track_refund"}) in knowledge.filtered
    answer = (await run(dm, said(conv.id, "the first one")))[-1]
    assert isinstance(answer, AnswerCompleted) and [s.id for s in answer.sources] == ["refund-2"]
    # weak, it is asked about alone ("is your question about where your refund is?"), not refused
    knowledge.script["when do I get paid back"] = ([("refund-1", 0.3)], (("track_refund", 1.0),))
    other = await dm.new_conversation()
    asked = (await run(dm, said(other.id, "when do I get paid back")))[-1]
    assert asked.text == "Just to be sure: is your question about where your refund is?"
    # a head short of clarify_confident is not looked up: the weak match stays unsure
    knowledge.script["when do I get paid back"] = ([("refund-1", 0.3)], (("track_refund", 0.8),))
    third = await dm.new_conversation()
    refused = (await run(dm, said(third.id, "when do I get paid back")))[-1]
    assert refused.text == settings.dialogue.unsure_answer


async def test_a_sentence_found_for_a_weak_message_is_asked_about_when_the_head_is_sure_of_another(
        settings, store) -> None:
    """"I don't want to be a customer anymore. Remove all my data and close my profile.": the whole
    message matched weakly, its first sentence well (a record of contacting customer service), while
    the head, reading the whole message, was sure of closing the account. Both are offered; with the
    head short of sure, the sentence's record is read as before."""
    story = "I sent the lamp back weeks ago. Is my money on its way?"
    knowledge = UnsureOfIntent({
        story: ([("refund-1", 0.4)], (("track_refund", 0.97), ("get_refund", 0.02))),
        "I sent the lamp back weeks ago.": ([("member-1", 0.62)], (("membership", 0.9),)),
        "Is my money on its way?": ([("member-1", 0.3)], (("membership", 0.5),))})
    dm = manager(settings, store, knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    asked = (await run(dm, said(conv.id, story)))[-1]
    assert asked.text == "Just to be sure: is your question about where your refund is, or membership?"
    answer = (await run(dm, said(conv.id, "where your refund is")))[-1]
    assert isinstance(answer, AnswerCompleted) and [s.id for s in answer.sources] == ["refund-2"]
    knowledge.script[story] = ([("refund-1", 0.4)], (("track_refund", 0.8), ("get_refund", 0.2)))
    other = await dm.new_conversation()
    read = (await run(dm, said(other.id, story)))[-1]
    assert isinstance(read, AnswerCompleted) and [s.id for s in read.sources] == ["member-1"]


async def test_a_weak_sentence_whose_intent_the_head_is_sure_of_is_asked_about(settings, store) -> None:
    """"is this a bot? whatever. i want to buy the red rain jacket in L, how do i order": the whole
    message matched weakly (0.34) with the head unsure (0.77); its question alone is still short of
    the bar (0.52) but the head is sure of it (0.97) and its nearest record agrees. Asked about, not
    "I don't have information"; with the head short of sure, the history has no answer, as before."""
    story = "is this a bot? i sent the lamp back. is my money on its way"
    knowledge = UnsureOfIntent({
        story: ([("member-1", 0.34)], (("track_refund", 0.77), ("membership", 0.2))),
        "is this a bot?": ([("member-1", 0.33)], (("membership", 0.98),)),
        "i sent the lamp back.": ([("member-1", 0.3)], (("membership", 0.5),)),
        "is my money on its way": ([("refund-2", 0.52)], (("track_refund", 0.97), ("get_refund", 0.02)))})
    dm = manager(settings, store, knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    asked = (await run(dm, said(conv.id, story)))[-1]
    assert asked.text == "Just to be sure: is your question about where your refund is?"
    answer = (await run(dm, said(conv.id, "yes")))[-1]
    assert isinstance(answer, AnswerCompleted) and [s.id for s in answer.sources] == ["refund-2"]
    knowledge.script["is my money on its way"] = ([("refund-2", 0.52)], (("track_refund", 0.8),))
    other = await dm.new_conversation()
    unsure = (await run(dm, said(other.id, story)))[-1]
    assert isinstance(unsure, AnswerCompleted) and not unsure.grounded and not unsure.options
    assert unsure.text == settings.dialogue.unsure_answer


CLOSE = Record(id="close-1", request="I want to close my account", intent="delete_account",
               category="ACCOUNT", resolution="Open Settings, choose Close account and confirm.")


class WithClosing(UnsureOfIntent):
    """UnsureOfIntent with a record whose steps cannot be undone."""

    def __init__(self, script: dict) -> None:
        super().__init__(script)
        self.by_id[CLOSE.id] = CLOSE

    def search(self, query: str, k: int | None = None, *, audience: str = "customer",
               filters: dict | None = None) -> list[Hit]:
        if filters and filters["intent"] == CLOSE.intent:
            return [Hit(record=CLOSE, score=0.5, text=CLOSE.resolution)]
        return super().search(query, k, audience=audience, filters=filters)


# The demo knowledge base's figures for these messages (nearest records and the head's odds).
SURNAME = "my account still has my old surname, how do i fix it"
CLOSING = "how do i close my account permanently"
CLOSING_SCRIPT = {
    SURNAME: ([("close-1", 0.61), ("member-1", 0.59)], (("delete_account", 0.86), ("membership", 0.11))),
    CLOSING: ([("close-1", 0.8), ("member-1", 0.4)], (("delete_account", 1.0),)),
    "the money left my account but the order says unpaid": (
        [("close-1", 0.55), ("refund-1", 0.57)], (("delete_account", 0.95), ("get_refund", 0.03)))}


async def test_steps_that_cannot_be_undone_are_asked_about_unless_the_history_is_sure(settings,
                                                                                      store) -> None:
    dm = manager(settings, store, knowledge=WithClosing(CLOSING_SCRIPT), confirm_intents=["delete_account"],
                 intent_labels={"delete_account": "closing your account"})
    conv = await dm.new_conversation()
    asked = (await run(dm, said(conv.id, SURNAME)))[-1]
    assert asked.text == "Just to be sure: is your question about closing your account?"
    declined = (await run(dm, said(conv.id, "no")))[-1]
    assert isinstance(declined, AnswerCompleted) and declined.text == settings.dialogue.unsure_answer
    # sure: the head gives it at least confirm_sure and no nearer record is of another intent
    sure = (await run(dm, said((await dm.new_conversation()).id, CLOSING)))[-1]
    assert isinstance(sure, AnswerCompleted) and [s.id for s in sure.sources][:1] == ["close-1"]
    # likely enough, but the head put it over a nearer record of another intent: asked too
    conv = await dm.new_conversation()
    asked = (await run(dm, said(conv.id, "the money left my account but the order says unpaid")))[-1]
    assert asked.text == "Just to be sure: is your question about closing your account?"
    confirmed = (await run(dm, said(conv.id, "yes")))[-1]
    assert isinstance(confirmed, AnswerCompleted) and [s.id for s in confirmed.sources] == ["close-1"]
    # [] never asks: the steps are read, as before
    off = manager(settings, store, knowledge=WithClosing(CLOSING_SCRIPT), confirm_intents=[])
    answered = (await run(off, said((await off.new_conversation()).id, SURNAME)))[-1]
    assert isinstance(answered, AnswerCompleted) and [s.id for s in answered.sources][:1] == ["close-1"]


async def test_clarifying_is_off_at_margin_zero_and_confidence_one(settings, store) -> None:
    dm = manager(settings, store, knowledge=UnsureOfIntent(REFUND_OR_WAIT), clarify_margin=0.0,
                 clarify_confident=1.0)
    conv = await dm.new_conversation()
    answer = (await run(dm, said(conv.id, "I returned it, what about my money")))[-1]
    assert answer.grounded and not answer.options


async def test_a_weak_match_after_a_weak_turn_goes_to_a_person_rather_than_asking(settings, store) -> None:
    """Asking "is your question about ...?" of a weak match is no way round the low-confidence
    handoff: after an unsure answer, the second weak turn hands over, as it did before."""
    knowledge = UnsureOfIntent({"can i has my cash back plz": (
        [("member-1", 0.3), ("refund-1", 0.28)], (("get_refund", 0.95), ("track_refund", 0.03)))})
    dm = manager(settings, store, knowledge=knowledge, **LABELLED)
    conv = await dm.new_conversation()
    first = (await run(dm, said(conv.id, "do you sell garden gnomes on mars?")))[-1]
    assert first.text == settings.dialogue.unsure_answer
    moved = (await run(dm, said(conv.id, "can i has my cash back plz")))[-1]
    assert isinstance(moved, StatusChanged)
    assert (moved.state, moved.reason) == ("waiting_human", "low_confidence")
