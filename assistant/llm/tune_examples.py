"""The examples `assistant tune` trains the chat model on (assistant.llm.tuning trains).

Each knowledge-base record becomes one supervised example laid out exactly like a
live prompt (assistant.prompt): the system prompt with the record's retrieved
neighbours as references (never the record itself), then the customer's request;
the target is the record's resolution with its placeholders as stored ("{{Order
Number}}", which the grounding guard fills for the customer reading it), its own
customer's numbers put back as placeholders, cut to whole sentences that fit
`llm.max_new_tokens`. Internal-audience records are never targets. A seeded share
of the records (`tune.holdout`) is held out: never trained on, used for the held-out loss.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.grounding import split_sentences
from assistant.llm.base import ChatMessage
from assistant.llm.tuning import TuneOptions
from assistant.prompt import PromptBuilder
from knowledge.placeholders import unpersonalise
from knowledge.records import Hit, Record

if TYPE_CHECKING:
    from assistant.settings import Settings
    from knowledge.base import KnowledgeBase

SEARCH_BATCH = 128  # requests searched at once while building examples


@dataclass(frozen=True)
class Example:
    record_id: str
    messages: tuple[ChatMessage, ...]  # the live prompt: system (instructions + references), request
    target: str  # what the model should answer


def is_held_out(record_id: str, *, seed: int, share: float) -> bool:
    """A seeded, order-independent choice: the same record is held out on every run."""
    digest = hashlib.sha256(f"{seed}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def trainable(record: Record) -> bool:
    """Customer-facing question-and-answer records: never internal ones, never policy chunks."""
    return (record.audience == "customer" and record.kind != "policy"
            and bool(record.request.strip()) and bool(record.resolution.strip()))


def split(records: Sequence[Record], *, seed: int, share: float) -> tuple[list[Record], list[Record]]:
    """(train, held_out) among the trainable records."""
    usable = sorted((r for r in records if trainable(r)), key=lambda r: r.id)
    held = [r for r in usable if is_held_out(r.id, seed=seed, share=share)]
    chosen = {r.id for r in held}
    return [r for r in usable if r.id not in chosen], held


def fit_target(text: str, count_tokens: Callable[[str], int], max_tokens: int) -> str:
    """Whole sentences of the text that fit the live answer length (a model taught longer
    answers would be cut off at the limit)."""
    kept = ""
    for sentence in split_sentences(text):
        if count_tokens(kept + sentence) > max_tokens:
            break
        kept += sentence
    return kept.strip()


def build_examples(records: Sequence[Record], neighbours: Callable[[Sequence[str]], list[list[Hit]]],
                   builder: PromptBuilder, *, count_tokens: Callable[[str], int], max_new_tokens: int,
                   references: int) -> list[Example]:
    """Each record as a live prompt over its neighbours (never itself) and its resolution."""
    examples: list[Example] = []
    found = neighbours([r.request for r in records])
    for record, hits in zip(records, found, strict=True):
        own = record.request.strip().lower()
        refs = [h for h in hits if h.id != record.id and h.record.request.strip().lower() != own]
        prompt = builder.build((), ChatMessage(role="user", content=record.request), refs[:references])
        target = fit_target(unpersonalise(record.resolution, record.request), count_tokens, max_new_tokens)
        if target:
            examples.append(Example(record.id, prompt.request.messages, target))
    return examples


def encode(tokenizer: Any, example: Example, max_tokens: int) -> tuple[list[int], list[int]] | None:
    """(input ids, labels): the prompt as the live backend renders it, then the answer and the
    chat template's end of turn; only the answer is learned. None when it is too long."""
    messages = [{"role": m.role, "content": m.content} for m in example.messages]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": example.target}],
                                         tokenize=False)
    answer = full[len(prompt):] if full.startswith(prompt) else example.target + tokenizer.eos_token
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if len(prompt_ids) + len(answer_ids) > max_tokens:
        return None
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids


@dataclass(frozen=True)
class Prepared:
    train: list[tuple[list[int], list[int]]]
    held: list[tuple[list[int], list[int]]]
    held_ids: frozenset[str]  # records never trained on
    train_ids: frozenset[str]
    skipped: int  # examples longer than tune.max_tokens


def prepare(settings: Settings, kb: KnowledgeBase, tokenizer: Any, options: TuneOptions,
            holdout: float, *, records: Sequence[Record] | None = None) -> Prepared:
    """The encoded training and held-out examples of the knowledge base's records (`records`:
    those already read from it)."""
    d = settings.dialogue

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    builder = PromptBuilder(system_prompt=d.system_prompt, company=settings.company, count_tokens=count,
                            context_tokens=settings.llm.context_tokens,
                            max_new_tokens=settings.llm.max_new_tokens, reference_tokens=d.reference_tokens)
    stored = kb.records() if records is None else records
    train_records, held_records = split(stored, seed=options.seed, share=holdout)

    def neighbours(queries: Sequence[str]) -> list[list[Hit]]:
        found: list[list[Hit]] = []
        for s in range(0, len(queries), SEARCH_BATCH):  # one more: the record itself drops out
            found += kb.search_many(queries[s:s + SEARCH_BATCH], d.retrieve_k + 1)
        return found

    encoded: dict[str, list[tuple[list[int], list[int]]]] = {}
    skipped = 0
    for name, records in (("train", train_records), ("held", held_records)):
        examples = build_examples(records, neighbours, builder, count_tokens=count,
                                  max_new_tokens=settings.llm.max_new_tokens, references=d.retrieve_k)
        rows = [encode(tokenizer, e, options.max_tokens) for e in examples]
        skipped += sum(r is None for r in rows)
        encoded[name] = [r for r in rows if r is not None]
    return Prepared(encoded["train"], encoded["held"], frozenset(r.id for r in held_records),
                    frozenset(r.id for r in train_records), skipped)
