"""Customers' typos corrected toward the history's own words (knowledge.spelling), and searched."""

from __future__ import annotations

from pathlib import Path

from knowledge.base import KnowledgeBase
from knowledge.config import KnowledgeConfig
from knowledge.records import Record
from knowledge.spelling import Speller, english_words, vocabulary, within

HISTORY = [
    "I want to switch my account to the business plan",
    "How do I switch accounts? I have two accounts",
    "Please create an account for me, I need a new account",
    "Where can I download the invoice for my purchase? Send the invoice",
    "When will my package arrive? The package was shipped with standard shipping",
    "I need to update the form on my account page",
    "my order came from the wrong warehouse",
] * 12 + ["please delete my acount"]  # histories have typos of their own


def speller() -> Speller:
    return Speller(vocabulary(HISTORY), english_words())


def test_typos_become_the_history_s_own_words() -> None:
    s = speller()
    assert s.correct("how to swich acount") == "how to switch account"
    assert s.correct("need invoce for my purchace") == "need invoice for my purchase"
    assert s.correct("where is my packge??") == "where is my package??"
    assert s.correct("Packge not here") == "Package not here"  # capitals kept


def test_real_words_contractions_and_unknown_words_are_left_alone() -> None:
    s = speller()
    # "form" is an English word the history also uses less than "from": never touched
    assert s.correct("the form won't load") == "the form won't load"
    assert s.correct("my amex card") == "my amex card"  # nothing near it in the history
    assert s.correct("tnx") == "tnx"  # too short to guess


def test_a_tie_between_two_corrections_leaves_the_word() -> None:
    s = Speller({"cart": 50, "card": 50}, english_words())
    assert s.correct("carx") == "carx"
    assert Speller({"cart": 500, "card": 5}, english_words()).correct("carx") == "cart"


def test_search_corrects_the_query_with_the_vocabulary_the_ingest_stored(data_dir: Path) -> None:
    intents = ["switch_account", "switch_account", "create_account", "get_invoice", "delivery_period",
               "edit_account", "complaint"] * 12 + ["delete_account"]
    records = [Record(id=f"r{n}", request=text, resolution=f"answer for {intent}", intent=intent)
               for n, (text, intent) in enumerate(zip(HISTORY, intents, strict=True))]
    with KnowledgeBase(KnowledgeConfig(), data_dir) as kb:
        kb.add_records(records)
        assert kb.store.load_vocabulary()["account"] >= 48
        # Uncorrected, these scored 0.33 and 0.34: below dialogue.min_score, answered "unsure".
        for query, intent in (("how to swich acount", "switch_account"),
                              ("need invoce for my purchace", "get_invoice")):
            best = kb.search(query, 1)[0]
            assert best.record.intent == intent and best.score > 0.6


def test_long_words_two_edits_away_are_found_among_frequent_words() -> None:
    s = Speller({"acknowledgement": 50, "account": 40}, english_words())
    assert s.correct("acknowlegdemnt") == "acknowledgement"  # a swap and a dropped letter
    assert s.correct("cknowledgemnt") == "cknowledgemnt"  # first letter lost too: not searched
    assert within("refnud", "refund", 1) and not within("abcdef", "uvwxyz", 2)

