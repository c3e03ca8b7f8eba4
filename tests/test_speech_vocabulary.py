"""The domain vocabulary Whisper is primed with."""

from __future__ import annotations

import pytest

from assistant.speech.vocabulary import MAX_PROMPT_CHARS, prompt_for, whisper_prompt, words_from_texts


def test_a_prompt_lists_each_word_once_in_its_spelling() -> None:
    assert prompt_for(["invoice", "  ORD-1234 ", "Invoice", "iPhone 15"]) == "invoice, ORD-1234, iPhone 15."


def test_no_words_no_prompt() -> None:
    assert prompt_for([]) is None
    assert prompt_for(["", "   "]) is None
    assert whisper_prompt((), None) is None


def test_a_long_vocabulary_is_cut_to_fit_whispers_prompt() -> None:
    prompt = prompt_for(f"product{i}" for i in range(500))
    assert prompt is not None and len(prompt) <= MAX_PROMPT_CHARS
    assert prompt.startswith("product0, product1,") and prompt.endswith(".")


def test_config_words_come_first_then_the_callers() -> None:
    assert whisper_prompt(("invoice",), "ORD-1234.") == "invoice. ORD-1234."


def test_knowledge_base_words_are_the_frequent_content_words() -> None:
    requests = [
        "I want to check my invoice for {{Order Number}}",
        "where is the invoice of my order",
        "Invoice missing, please help with my iPhone order",
        "my iPhone order never came, I want a refund",
        "can you help me get a refund for the iPhone",
        "refund please",
    ]
    words = words_from_texts(requests, top=10, min_count=3)
    assert set(words) == {"invoice", "order", "iPhone", "refund"}  # iPhone keeps its capital
    assert "please" not in words and "want" not in words  # too common to help
    assert "Number" not in words and "number" not in words  # placeholders are not speech


@pytest.mark.model
def test_the_knowledge_base_gives_its_frequent_words(tmp_path) -> None:
    from assistant.speech.vocabulary import kb_vocabulary
    from knowledge.base import KnowledgeBase
    from knowledge.config import KnowledgeConfig
    from knowledge.records import Record

    kb = KnowledgeBase(KnowledgeConfig(), tmp_path)
    requests = ["where is my invoice", "send the invoice again", "I never got an invoice",
                "cancel my subscription", "how to cancel the subscription", "subscription cancel now"]
    kb.add_records([Record(id=f"r{i}", request=text, resolution="ok") for i, text in enumerate(requests)])
    try:
        assert set(kb_vocabulary(kb)) == {"invoice", "cancel", "subscription"}
    finally:
        kb.close()
