"""The dialogue manager: every customer turn and every agent action goes through here.

A turn is stored as it happens (message, transcript, image text), then routed:
to a person (StatusChanged waiting_human, with the reason) or to the model,
whose answer streams as stored events. With a person in charge the bot stays
silent and drafts suggestions for the agent. Callers get the stored events, with
their seq, in order; the log is the single truth a reconnecting client replays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from assistant.answering import collect, sources_of, stream_answer
from assistant.batching import Batcher
from assistant.clarify import clarify_options, confirm_options, question, read_choice, unfound_intent
from assistant.compose import asks_for_details, compose_best, gives_details, missing_contact, reads_poorly
from assistant.errors import ConversationError, InputError
from assistant.events import (
    AgentMessage,
    AnswerCompleted,
    AnswerStarted,
    ErrorEvent,
    Event,
    Feedback,
    Option,
    State,
    StatusChanged,
    Suggestion,
    UserMessage,
    fold_state,
)
from assistant.llm.base import ChatMessage, ChatRequest, LLMBackend
from assistant.llm.extractive import ExtractiveBackend
from assistant.media import MediaReader, Speech, Understood
from assistant.ports import TurnTrace
from assistant.prompt import PromptBuilder, history_messages, retrieval_query, user_content
from assistant.routing import (
    NO_HANDOFF,
    HandoffDecision,
    HandoffDetector,
    PersonModel,
    reply_to_offer,
    sentences,
    unsure_reason,
    without_declines,
)
from assistant.search_batch import BatchedSearch, Searchable
from assistant.store.base import ConversationInfo, ConversationStore
from assistant.vision import ImageReader
from knowledge.errors import KnowledgeError
from knowledge.records import Audience, Hit

if TYPE_CHECKING:
    from assistant.settings import Settings

SENTENCE_WORDS = 3  # a sentence this long may be searched alone when the whole message matches weakly
_NO_CONTEXT_LIMIT = 10**9  # tokens: the prompt budget of a backend that reads no prompt


def new_id() -> str:
    return uuid.uuid4().hex


class DialogueManager:
    def __init__(self, settings: Settings, *, store: ConversationStore, knowledge: Searchable,
                 llm: LLMBackend, speech: Speech | None, image_reader: ImageReader,
                 person: PersonModel | None = None) -> None:
        self.settings = settings
        self.store = store
        self.knowledge = knowledge
        self.llm = llm
        self.searcher = BatchedSearch(knowledge)  # concurrent turns' questions in one call
        # ... and their handoff classifications: the classifier costs as much CPU as a search.
        self.classify: Batcher[str, float] | None = (
            Batcher(lambda texts: list(person.probabilities(texts))) if person is not None else None)
        d = settings.dialogue
        # person: the learned "asks for a person" classifier (assistant.handoff_model); without
        # one only triggers and low confidence hand over.
        self.detector = HandoffDetector(model=person, threshold=d.handoff_threshold,
                                        triggers=d.handoff_triggers, min_score=d.min_score,
                                        low_confidence_turns=d.low_confidence_turns)
        self.prompts = PromptBuilder(system_prompt=d.system_prompt, company=settings.company,
                                     count_tokens=llm.count_tokens,
                                     # a backend that reads no prompt has no context to fill: every
                                     # record the composer may choose from reaches it (dialogue.compose_k)
                                     context_tokens=settings.llm.context_tokens if llm.reads_prompt
                                     else settings.llm.max_new_tokens + _NO_CONTEXT_LIMIT,
                                     max_new_tokens=settings.llm.max_new_tokens,
                                     temperature=settings.llm.temperature,
                                     reference_tokens=d.reference_tokens if llm.reads_prompt else 0)
        self.media = MediaReader(speech=speech, image_reader=image_reader,
                                 max_image_bytes=settings.vision.max_bytes,
                                 max_image_pixels=settings.vision.max_pixels,
                                 language=settings.speech.language)

    # -- customer turns ------------------------------------------------------------

    async def handle(self, message: UserMessage, *, answer: bool = True,
                     trace: TurnTrace | None = None) -> AsyncGenerator[Event, None]:
        """Stored events of this customer message (given unstored: seq 0, no message_id), in
        order. `answer=False` stops after routing and retrieval (the eval harness's
        --retrieve-only); `trace` receives query, hits, decision, and the seq the turn's own
        events follow (the turn runner publishes a cut-off turn's events from there).

        One store read before the message is stored: the log answers whether this is a
        resend and who is in charge (a turn waits on every read before its search starts)."""
        if not message.text.strip() and not message.attachments:
            raise InputError("The message is empty.", code="empty_message")
        trace = TurnTrace() if trace is None else trace
        log = await self.store.events(message.conversation_id)
        trace.last_seq = log[-1].seq if log else 0
        retry: UserMessage | None = None
        if message.client_msg_id:
            earlier = _client_message(log, message.client_msg_id)
            if earlier is not None and not _interrupted(log, earlier):
                yield earlier  # a resend: already handled once
                return
            retry = earlier  # its turn was cut off by a restart: answer it now
        was = fold_state(log)  # the conversation's state: always the fold of its log
        state = was if was != "closed" else "bot"
        # A text turn the bot will answer: search while the message is being stored.
        early = (asyncio.create_task(self._search(self._query(message.text, log)))
                 if state == "bot" and not message.attachments else None)
        try:
            async with aclosing(self._after_read(message, was, log, state, early, answer=answer,
                                                 trace=trace, retry=retry)) as events:
                async for event in events:
                    yield event
        finally:
            if early is not None:
                _discard(early)  # the turn may have ended before it needed the hits

    async def _after_read(self, turn: UserMessage, was: str, log: list[Event], state: str,
                          early: asyncio.Task[list[Hit]] | None, *, answer: bool,
                          trace: TurnTrace, retry: UserMessage | None = None) -> AsyncGenerator[Event, None]:
        if retry is not None:  # stored before a restart, never answered: answered now, not stored again
            message: Event = retry
            message_id = retry.message_id
        else:
            message_id = new_id()
            message = await self.store.append(dataclasses.replace(
                turn, message_id=message_id, text=turn.text.strip(), seq=0))
        yield message
        if not isinstance(message, UserMessage) or message.message_id != message_id:
            return  # a resend that raced the first copy: the store kept the first, which answers
        turn = message  # the stored message, with its id
        if was == "closed":  # a customer writing again reopens the conversation
            yield await self._status(turn.conversation_id, "bot", "reopened")
        understood = Understood()
        attachments = [await self.store.get_attachment(a) for a in turn.attachments]
        refused = False
        async with aclosing(self.media.read(attachments, message_id, understood)) as media:
            async for event in media:
                refused = refused or isinstance(event, ErrorEvent)
                yield await self.store.append(event)
        text = user_content(turn.text, understood.transcript, understood.image_texts)
        if not text:
            if not refused:  # read fine, but nothing in it: say so rather than leave the question open
                yield await self.store.append(ErrorEvent(
                    conversation_id=turn.conversation_id, code="nothing_to_read", message_id=message_id,
                    message="I could not find any words in what you sent. Could you type your question?"))
            return  # only unusable attachments: their errors ended the turn
        if state == "human":
            async with aclosing(self._suggest_for(turn.conversation_id, [*log, message], text)) as drafts:
                async for event in drafts:
                    yield event
        if state != "bot":
            return  # a person is (or will be) answering
        # aclosing: a consumer that leaves must close the inner generators now, not at GC,
        # so generation stops and the interrupted answer is stored at once.
        # What came before this message: a retried one is in the log already (with the error that
        # closed it), and must not be its own history ("I want a refund" twice in the prompt).
        before = [e for e in log if e.seq < turn.seq]
        async with aclosing(self._route_and_answer(turn, before, understood, early, answer=answer,
                                                   trace=trace)) as events:
            async for event in events:
                yield event

    async def _route_and_answer(self, turn: UserMessage, log: list[Event], understood: Understood,
                                early: asyncio.Task[list[Hit]] | None, *, answer: bool,
                                trace: TurnTrace) -> AsyncGenerator[Event, None]:
        cid = turn.conversation_id
        own_words = " ".join(filter(None, [turn.text.strip(), understood.transcript]))
        d = self.settings.dialogue
        asked = _asked_options(log)  # the last word was a clarifying question: is this the choice?
        if asked and own_words:
            try:  # what the reply is about decides before its words do ("tracking it, order 5512")
                about = await (early if early is not None else self._search(own_words))
            except KnowledgeError as exc:
                yield await self.store.append(ErrorEvent(conversation_id=cid, code=exc.code,
                                                         message=exc.message, message_id=turn.message_id))
                return
            choice, other = read_choice(own_words, asked, about[0].intents if about else ())
            if choice:
                async with aclosing(self._answer_choice(turn, log, understood, choice, answer=answer,
                                                        trace=trace)) as chosen:
                    async for event in chosen:
                        yield event
                return
            if other != own_words:  # "no, how do I return this?": the rest is a question of its own
                own_words, early = other, None
        # After an answer that offered a person ("Shall I connect you with a person?"): "accept",
        # "decline" with what else the customer asked ("no, how long does a refund take?"), or "".
        reply, rest = reply_to_offer(own_words) if own_words and _offered_person(log) else ("", own_words)
        if reply == "accept" or (reply == "decline" and not rest):
            async with aclosing(self._settle_offer(turn, own_words, reply, answer=answer,
                                                   trace=trace)) as settled:
                async for event in settled:
                    yield event
            return
        if reply == "decline":
            own_words, early = rest, None  # the question after the "no" is what is searched
        elif own_words and _asked_for_details(log) and gives_details(own_words):
            # The history's answer asked for the order number (its agent looked orders up); the
            # assistant cannot: a person can, with the details now in the conversation.
            trace.unsure = "needs_person"
            if answer:
                async with aclosing(self._say(turn, d.lookup_answer, grounded=False)) as said:
                    async for event in said:
                        yield event
            return
        query = "\n".join(filter(None, [own_words, *understood.image_texts]))
        # A question after a "no" stands on its own: not a follow-up of the one the history lacked.
        query = query if reply == "decline" else self._query(query, log)
        # Only the customer's own words can ask for a person: a screenshot of someone else's
        # chat saying "talk to an agent" is not a request. Classified while the search runs.
        asks = (asyncio.create_task(self._asks_for_person(own_words, understood.language))
                if own_words else None)
        try:
            hits = await (early if early is not None else self._search(query))
            decision = await asks if asks is not None else NO_HANDOFF
        except KnowledgeError as exc:
            yield await self.store.append(ErrorEvent(conversation_id=cid, code=exc.code, message=exc.message,
                                                     message_id=turn.message_id))
            return
        finally:
            if asks is not None:
                _discard(asks)
        unsure = "" if decision.handoff else unsure_reason(hits, min_score=d.min_score,
                                                           margin=d.unsure_margin)
        if unsure == "weak_match":  # a question inside a story: its own sentence may match well
            try:  # the customer's own sentences only: a screenshot's text is not their question
                found = await self._best_sentence(own_words)
            except KnowledgeError as exc:
                yield await self.store.append(ErrorEvent(conversation_id=cid, code=exc.code,
                                                         message=exc.message, message_id=turn.message_id))
                return
            if found is not None:
                whole = hits[0].intents if hits else ()
                query, hits = found
                unsure = unsure_reason(hits, min_score=d.min_score, margin=d.unsure_margin)
                if whole and whole[0][1] >= d.clarify_confident and hits[0].record.intent != whole[0][0]:
                    # The head, reading the whole message, is sure of another intent than the sentence's
                    # record ("I don't want to be a customer anymore. Remove all my data and close my
                    # profile."): its view stands, so the two candidates are asked about, not guessed.
                    hits = [dataclasses.replace(h, intents=whole) for h in hits]
        if not unsure and not decision.handoff and hits[0].record.intent in d.handoff_intents:
            # The nearest record answers a request for a person ("I'll connect you with an agent"),
            # but the classifier did not read one: ask rather than say that without doing it.
            unsure = "person_record"
        if not unsure and not decision.handoff and hits[0].record.kind not in d.answer_kinds:
            # The nearest is one customer's conversation: what its agent decided for them ("because it
            # has been more than 90 days we cannot accept the return") is not an answer for this one.
            # A record written for anyone of the same intent answers instead, or none does.
            readable = [h for h in self._readable(hits) if h.record.intent == hits[0].record.intent]
            if readable and readable[0].score >= d.min_score:
                hits = [*readable, *(h for h in hits if h not in readable)]
            else:
                unsure = "case_only"
        contact = ("" if unsure or decision.handoff
                   else missing_contact(hits, self.settings.company, own_words))
        if contact:  # "what's your phone number?" and [company] sets none: say so, never promise it
            unsure = "no_contact"
        missing = ("" if decision.handoff or unsure not in ("", "weak_match") else
                   unfound_intent(hits, sure=d.clarify_confident, exclude=d.handoff_intents))
        if missing:  # the head is sure of an intent the search did not reach: its records, to offer
            try:
                more = self._readable(await self.searcher.search(query, d.retrieve_k,
                                                                 filters={"intent": missing}))
            except KnowledgeError:
                more = []  # asked about what was found, as without them
            hits = [*hits, *more]
        # Two intents about as likely, or a weak record while one intent is very likely or while the
        # search found a nearer one of another intent: ask which.
        options = () if decision.handoff or unsure not in ("", "weak_match") else clarify_options(
            hits, unsure, margin=d.clarify_margin, confident=d.clarify_confident, labels=d.intent_labels,
            exclude=d.handoff_intents, min_score=d.min_score, likely=d.clarify_likely, near=d.clarify_near)
        # an intent only other customers' conversations were found of has no answer to offer
        options = tuple(o for o in options if any(h.record.intent == o.intent for h in self._readable(hits)))
        if not options and not unsure and not decision.handoff:  # what cannot be undone: only when sure
            options = confirm_options(hits, intents=d.confirm_intents, sure=d.confirm_sure,
                                      labels=d.intent_labels)
        if not decision.handoff:  # an unsure turn is a low-confidence one: enough in a row hand over
            best = None if unsure else hits[0].score
            earlier = [] if reply == "decline" else _earlier_best_scores(log)  # declining starts a new run
            weak = self.detector.on_confidence(best, earlier)
            # A question back is no answer yet, so not a weak turn itself; but one about a weak
            # match after enough weak turns is one too many: a person, as without it.
            decision = weak if weak.handoff or not options else decision
            options = () if weak.handoff else options
        if options:
            unsure = ""  # a question back, not "I don't have information on that"
        trace.query, trace.hits, trace.decision, trace.unsure = query, hits, decision, unsure
        trace.options = options
        if decision.handoff:
            yield await self._status(cid, "waiting_human", decision.reason, detail=decision.detail)
            return
        if not answer:
            return
        if options:
            answer_stream = self._say(turn, question(d.clarify_answer, options), grounded=False,
                                      options=options)
        elif unsure:  # say so rather than answer from an unrelated record
            honest = (d.offer_answer if unsure == "person_record" else
                      d.no_contact_answer.format(contact=contact) if contact else d.unsure_answer)
            answer_stream = self._say(turn, honest, grounded=False)
        else:
            if not self.llm.reads_prompt:
                hits = trace.hits = await self._more_to_choose_from(query, hits, own_words)
            answer_stream = self._answer_from(turn, log, understood, hits)
        async with aclosing(answer_stream) as events:
            async for event in events:
                yield event

    def _readable(self, hits: list[Hit]) -> list[Hit]:
        """The hits a customer's answer may be read from (`dialogue.answer_kinds`): not another
        customer's conversation."""
        return [h for h in hits if h.record.kind in self.settings.dialogue.answer_kinds]

    async def _more_to_choose_from(self, query: str, hits: list[Hit], said: str) -> list[Hit]:
        """The hits, and when the best record's composed answer only asks for details or only
        acknowledges ("could you please provide your order number? With it, I'll check the status of
        your refund"), more records of its intent (`dialogue.compose_k`) for the composer to choose
        from: a nearly as close one may say what to do. They are cited as the others are."""
        k = self.settings.dialogue.compose_k
        if not hits or k <= len(hits) or not reads_poorly(compose_best(hits, self.settings.company, [said],
                                                                       floor=self.settings.dialogue.min_score)):
            return hits
        try:
            more = await self.searcher.search(query, k, filters={"intent": hits[0].record.intent})
        except KnowledgeError:
            return hits  # the answer from the hits there are
        seen = {h.id for h in hits}
        return [*hits, *(h for h in more if h.id not in seen)]

    def _answer_from(self, turn: UserMessage, log: list[Event], understood: Understood,
                     hits: list[Hit]) -> AsyncGenerator[Event, None]:
        """The answer from these records, streamed (the model adapts them to the conversation)."""
        current = ChatMessage(role="user", content=user_content(turn.text, understood.transcript,
                                                                understood.image_texts),
                              images=tuple(understood.images) if self.llm.supports_images else ())
        # Only records written for anyone are read to a customer (`dialogue.answer_kinds`): never another
        # customer's conversation, whichever model answers.
        hits = self._readable(hits)
        prompt = self.prompts.build(self._history(log), current, hits, language=understood.language)
        sources = sources_of(prompt.references, labels=self.settings.dialogue.intent_labels)  # a customer's
        return stream_answer(self.store, self.llm, prompt.request, conversation_id=turn.conversation_id,
                             answer_id=new_id(), sources=sources, question_id=turn.message_id)

    async def _answer_choice(self, turn: UserMessage, log: list[Event], understood: Understood, intent: str,
                             *, answer: bool, trace: TurnTrace) -> AsyncGenerator[Event, None]:
        """The customer chose: the clarified question answered from that intent's records; "none" is
        the history having no answer (said, with the offer of a person, as any unsure turn)."""
        d = self.settings.dialogue
        trace.chosen = intent
        question_asked = _last_user_content(log)  # the message the clarifying question was about
        hits: list[Hit] = []
        if intent != "none":
            try:
                hits = await self.searcher.search(question_asked, d.retrieve_k, filters={"intent": intent})
                hits = self._readable(hits)  # none: the history has no answer
            except KnowledgeError as exc:
                yield await self.store.append(ErrorEvent(conversation_id=turn.conversation_id, code=exc.code,
                                                         message=exc.message, message_id=turn.message_id))
                return
        trace.query, trace.hits = question_asked, hits
        trace.unsure = "" if hits else ("declined_options" if intent == "none" else "no_match")
        if trace.unsure:  # a low-confidence turn like any unsure one: enough in a row hand over
            trace.decision = self.detector.on_confidence(None, _earlier_best_scores(log))
            if trace.decision.handoff:
                yield await self._status(turn.conversation_id, "waiting_human", trace.decision.reason,
                                         detail=trace.decision.detail)
                return
        if not answer:
            return
        if hits and not self.llm.reads_prompt:  # as for any answer: one that only asks may have a better
            hits = trace.hits = await self._more_to_choose_from(question_asked, hits, question_asked)
        stream = (self._say(turn, d.unsure_answer, grounded=False) if trace.unsure
                  else self._answer_from(turn, log, understood, hits))
        async with aclosing(stream) as events:
            async for event in events:
                yield event

    async def _settle_offer(self, turn: UserMessage, words: str, reply: str, *, answer: bool,
                            trace: TurnTrace) -> AsyncGenerator[Event, None]:
        """"yes please" hands over (the customer asked); "no thanks" is acknowledged."""
        cid = turn.conversation_id
        if reply == "accept":
            trace.decision = decision = HandoffDecision(True, "customer_request",
                                                        f"accepted the offer of a person: {words[:120]}")
            yield await self._status(cid, "waiting_human", decision.reason, detail=decision.detail)
        elif answer:
            declined = self.settings.dialogue.declined_answer
            async with aclosing(self._say(turn, declined, grounded=True)) as said:
                async for event in said:
                    yield event

    async def _say(self, turn: UserMessage, text: str, *, grounded: bool,
                   options: tuple[Option, ...] = ()) -> AsyncGenerator[Event, None]:
        """A set answer of the configuration (dialogue.unsure_answer, ...: no record behind it),
        streamed word by word and stored as any other."""
        request = ChatRequest(messages=(ChatMessage("user", turn.text),))
        async with aclosing(stream_answer(self.store, ExtractiveBackend(no_record=text), request,
                                          conversation_id=turn.conversation_id,
                                          answer_id=new_id(), sources=(), question_id=turn.message_id,
                                          grounded=grounded, options=options)) as events:
            async for event in events:
                yield event

    async def _asks_for_person(self, words: str, language: str) -> HandoffDecision:
        """Triggers, then the learned classifier over the message's parts (with other turns')."""
        decided, parts = self.detector.to_classify(words, language)
        if decided is not None or not parts or self.classify is None:
            return decided or NO_HANDOFF
        # The classifier reads what the search reads: typos corrected toward the history's words.
        # Misspelt, "need invoce for my purchace" read as a request for a person (0.87; corrected,
        # 0.02), and "talk to humna" less surely than "talk to human" (0.78 against 0.98).
        correct = getattr(self.knowledge, "correct", None)
        read = parts if correct is None else await asyncio.to_thread(lambda: [correct(p) for p in parts])
        return self.detector.decide(read, await asyncio.gather(*(self.classify(p) for p in read)))

    def _history(self, log: Sequence[Event]) -> list[ChatMessage]:
        # history_turns turns of customer and assistant; the token budget may trim further.
        turns = self.settings.dialogue.history_turns
        return history_messages(log)[-2 * turns:] if turns else []

    def _query(self, text: str, log: Sequence[Event]) -> str:
        if _asked_options(log):  # a reply to "A, or B?" is a choice or a message of its own, no follow-up
            return text.strip()
        # "I don't need an agent, just the fee": the declining clause is not what to search for.
        return retrieval_query(without_declines(text.strip()), _earlier_user_texts(log),
                               max_turns=min(2, self.settings.dialogue.history_turns))

    async def _best_sentence(self, words: str) -> tuple[str, list[Hit]] | None:
        """The sentence of a several-sentence message whose best record is good enough, with its
        hits ("I sent the kettle back on the 2nd and got an email. How long until the refund?"
        is diluted as a whole; its question is not), or whose intent is sure though its record is
        weak (to be asked about). None when none is."""
        parts = [p for p in sentences(without_declines(words)) if len(p.split()) >= SENTENCE_WORDS]
        if len(parts) < 2:
            return None
        found = await asyncio.gather(*(self._search(p) for p in parts))
        part, hits = max(zip(parts, found, strict=True),
                         key=lambda pair: pair[1][0].score if pair[1] else 0.0)
        d = self.settings.dialogue
        if not hits:
            return None
        if hits[0].score >= d.min_score:
            return part, hits
        # Still weak, but the head reading the sentence alone is sure and its nearest record agrees:
        # "is this a bot? whatever. i want to buy the red rain jacket in L, how do i order" is placing
        # an order (0.97) once the chatter around it is left out. Its weak match is asked about.
        head = hits[0].intents[0] if hits[0].intents else None
        sure = head is not None and d.clarify_confident < 1 and head[1] >= d.clarify_confident \
            and head[0] == hits[0].record.intent
        return (part, hits) if sure else None

    async def _search(self, query: str, audience: Audience = "customer") -> list[Hit]:
        return await self.searcher.search(query, self.settings.dialogue.retrieve_k, audience=audience)

    # -- agent assist ----------------------------------------------------------------

    async def suggest(self, conversation_id: str) -> AsyncGenerator[Event, None]:
        """A stored Suggestion (agents only) answering the customer's last message."""
        log = await self.store.events(conversation_id)
        last = _last_user_content(log)
        if not last:
            raise ConversationError("The customer has not written anything yet.", code="conversation_empty")
        async with aclosing(self._suggest_for(conversation_id, log, last)) as drafts:
            async for event in drafts:
                yield event

    async def _suggest_for(self, cid: str, log: list[Event], text: str) -> AsyncGenerator[Event, None]:
        # Agents may draw on internal guidelines too; the suggestion then says so (`internal`).
        hits = await self._search(retrieval_query(text, _earlier_user_texts(log[:-1])), audience="any")
        history = self._history(log)[:-1]  # the last customer message is the question itself
        prompt = self.prompts.build(history, ChatMessage(role="user", content=text), hits)
        draft = await collect(self.llm, prompt.request)
        internal = any(h.record.audience == "internal" for h in prompt.references)
        yield await self.store.append(Suggestion(conversation_id=cid, message_id=new_id(), text=draft,
                                                 sources=sources_of(prompt.references), internal=internal))

    # -- conversation and agent operations --------------------------------------------
    # Each returns the events it stored, in order ([] when nothing had to change).

    async def new_conversation(self, user_id: str = "", inbox: str = "default") -> ConversationInfo:
        return await self.store.create(user_id=user_id, inbox=inbox)

    async def resent(self, conversation_id: str, client_msg_id: str) -> bool:
        """A message with this client id is stored and its turn is over: a resend is not answered
        again. A message whose turn a restart cut off (and nothing answered since) is answered.
        The same rule `handle` applies to the log it reads."""
        if not client_msg_id:
            return False
        earlier = await self.store.find_client_message(conversation_id, client_msg_id)
        if not isinstance(earlier, UserMessage):
            return False
        return not _interrupted(await self.store.events(conversation_id, after=earlier.seq - 1), earlier)

    async def request_handoff(self, conversation_id: str, reason: str = "customer_request") -> list[Event]:
        state = await self._state(conversation_id)
        if state in ("waiting_human", "human"):
            return []  # already with, or waiting for, a person
        return [await self._status(conversation_id, "waiting_human", reason)]

    async def take_over(self, conversation_id: str, agent: str) -> list[Event]:
        return [await self._status(conversation_id, "human", "agent", agent)]

    async def hand_back(self, conversation_id: str, agent: str) -> list[Event]:
        # closed -> bot is allowed for a customer who writes again, not for an agent's hand-back.
        state = await self._state(conversation_id)
        if state not in ("human", "waiting_human"):
            raise ConversationError(f"Only a conversation with a person can be handed back (it is {state}).",
                                    code="bad_transition")
        return [await self._status(conversation_id, "bot", "handed_back", agent)]

    async def close(self, conversation_id: str, by: str = "") -> list[Event]:
        if await self._state(conversation_id) == "closed":
            return []
        return [await self._status(conversation_id, "closed", "closed", by)]

    async def agent_reply(self, conversation_id: str, agent: str, text: str) -> list[Event]:
        """An agent's message; an agent who replies has taken over."""
        if not text.strip():
            raise InputError("The reply is empty.", code="empty_message")
        events: list[Event] = []
        if await self._state(conversation_id) != "human":
            events.append(await self._status(conversation_id, "human", "agent", agent))
        events.append(await self.store.append(AgentMessage(conversation_id=conversation_id,
                                                           message_id=new_id(), text=text.strip(),
                                                           agent=agent)))
        return events

    async def feedback(self, conversation_id: str, message_id: str, rating: str,
                       comment: str = "") -> list[Event]:
        if rating not in ("up", "down"):
            raise InputError("A rating is 'up' or 'down'.", code="bad_feedback")
        log = await self.store.events(conversation_id)
        rateable = (AnswerCompleted, AgentMessage)  # the assistant's answers and the agents' replies
        if not any(isinstance(e, rateable) and e.message_id == message_id for e in log):
            raise ConversationError(f"There is no answer {message_id!r} in this conversation.",
                                    code="message_not_found")
        return [await self.store.append(Feedback(conversation_id=conversation_id, message_id=message_id,
                                                 rating=rating, comment=comment))]  # type: ignore[arg-type]

    async def _state(self, conversation_id: str) -> State:
        """The conversation's state: the fold of its log, as `handle` reads it."""
        return fold_state(await self.store.events(conversation_id))

    async def _status(self, cid: str, state: str, reason: str, agent: str = "", detail: str = "") -> Event:
        return await self.store.append(StatusChanged(conversation_id=cid, state=state,  # type: ignore[arg-type]
                                                     reason=reason, agent=agent, detail=detail))


def _discard(task: asyncio.Task[Any]) -> None:
    """Cancel a search nobody will await, or mark its failure as seen (no asyncio warning)."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


def _client_message(log: Sequence[Event], client_msg_id: str) -> UserMessage | None:
    """The stored message a client already sent with this id (a resend), if any."""
    return next((e for e in log if isinstance(e, UserMessage) and e.client_msg_id == client_msg_id), None)


def _interrupted(log: Sequence[Event], message: UserMessage) -> bool:
    """Its turn was closed by the recovery sweep (the worker died before answering) and nothing
    answered it since."""
    after = [e for e in log if e.seq > message.seq]
    cut = next((i for i, e in enumerate(after) if isinstance(e, ErrorEvent) and e.code == "interrupted"
                and e.message_id == message.message_id), None)
    return cut is not None and not any(isinstance(e, AnswerStarted | AgentMessage) for e in after[cut:])


def _earlier_user_texts(log: Sequence[Event]) -> list[str]:
    return [m.content for m in history_messages(log) if m.role == "user"]


def _last_user_content(log: Sequence[Event]) -> str:
    users = _earlier_user_texts(log)
    return users[-1] if users else ""


def _earlier_best_scores(log: Sequence[Event]) -> list[float | None]:
    """Best retrieval score of each bot answer since the bot last (re)gained the conversation, or
    since the customer declined its offer of a person (whose acknowledgement does not count)."""
    scores: list[float | None] = []
    offered = declined = False
    for event in log:
        if isinstance(event, StatusChanged) and event.state == "bot":
            scores = []
        elif isinstance(event, UserMessage):
            declined = offered and reply_to_offer(event.text)[0] == "decline"
            scores, offered = ([] if declined else scores), False
        elif isinstance(event, AnswerCompleted):
            # "All right. Anything else?" is no answer; a clarifying question is not one yet
            if not (declined and not event.sources) and not event.options:
                scores.append(event.sources[0].score if event.sources else None)
            offered, declined = not event.grounded and not event.options, False
    return scores


def _last_answer(log: Sequence[Event]) -> AnswerCompleted | None:
    """The bot's answer that was the conversation's last word (nobody wrote, nothing changed since)."""
    for event in reversed(log):
        if isinstance(event, AnswerCompleted):
            return event
        if isinstance(event, UserMessage | AgentMessage | StatusChanged):
            return None
    return None


def _asked_for_details(log: Sequence[Event]) -> bool:
    """The last word was an answer from the history that asked for details to act on ("could you
    provide your order number?")."""
    last = _last_answer(log)
    return last is not None and last.grounded and asks_for_details(last.text)


def _offered_person(log: Sequence[Event]) -> bool:
    """The last word was an answer that offered a person (an unsure one: "Shall I connect you with a
    person?")."""
    last = _last_answer(log)
    return last is not None and not last.grounded and not last.options


def _asked_options(log: Sequence[Event]) -> tuple[Option, ...]:
    """What the last word offered, when it was a clarifying question ("is your question about A, or B?")."""
    last = _last_answer(log)
    return last.options if last is not None else ()
