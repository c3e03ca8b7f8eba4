"""The rules of a true answer (assistant.grounding), on real answers: a Bitext resolution as the
reference, and sentences the packaged 135M model really produced from it."""

from __future__ import annotations

from assistant.grounding import (
    Evidence,
    check_answer,
    check_sentence,
    is_cut_off,
    is_looping,
    specifics,
    split_sentences,
)

REFERENCE = (
    "I understand that you're having difficulty locating order number 48213. I'm here to assist you.\n\n"
    "1. Log in to your account on our website.\n"
    "2. Go to the \"Order History\" or \"My Orders\" section.\n"
    "3. Once you locate the order, you should be able to find the tracking information.\n\n"
    "You can reach our support team through live chat on the website or by calling our customer "
    "support phone number."
)
CUSTOMER = "hi, my order #48213 never arrived and I paid $35.90 for it, where is it??"


def judge(answer: str, *extra: str):
    return check_answer(answer, [REFERENCE, CUSTOMER, *extra], [REFERENCE])


def test_the_reference_itself_is_grounded() -> None:
    check = judge(REFERENCE)
    assert check.grounded and not check.invented and not check.cut_off and not check.looping


def test_an_invented_phone_number_and_opening_hours_are_caught() -> None:
    check = judge("You can call our support team at 09 32 23 23 from 8am - 9pm.")
    assert not check.grounded
    assert {"number:09 32 23 23", "hours:8am", "hours:9pm"} <= set(check.invented)


def test_the_customers_own_order_number_and_amount_are_not_invented() -> None:
    check = judge("I understand that you're having difficulty locating order number 48213, "
                  "which you paid $35.90 for.")
    assert check.invented == ()


def test_a_voice_notes_number_with_a_thousands_comma_is_the_customers_own() -> None:
    said = ["can you check the status of order 40,981?"]  # Whisper writes numbers with commas
    assert check_answer("Order number 40981 is on its way.", said, []).invented == ()
    assert check_answer("Order number 40982 is on its way.", said, []).invented == ("number:40982",)


def test_a_phone_number_from_the_company_config_is_allowed() -> None:
    answer = "You can reach our support team at +1 555 0100."
    assert judge(answer).invented != ()
    assert judge(answer, "+1 555 0100").invented == ()


def test_invented_links_and_addresses_are_caught_but_referenced_ones_pass() -> None:
    link = judge("Subscribe at www.facebook.com/subscribe today.")
    assert "url:www.facebook.com/subscribe" in link.invented
    assert "email:support@mybanking.com" in judge("Write to support@mybanking.com for help.").invented
    page = "Track it on https://shop.example/orders any time."
    assert check_answer(page, [page], [page]).invented == ()


def test_an_invented_policy_number_is_caught() -> None:
    assert "number:14" in judge("Refunds are paid back within 14 days of the return.").invented


def test_a_name_the_sources_do_not_hold_is_caught() -> None:
    assert "name:Freemium" in judge("Go to the account page and select the Freemium plan.").invented


def test_code_markup_and_sign_off_placeholders_are_faults() -> None:
    evidence = Evidence([REFERENCE, CUSTOMER])
    assert check_sentence("<?php echo track_order($order); ?>", evidence, REFERENCE).code
    assert check_sentence("Best regards,\n", evidence, REFERENCE).placeholder
    assert check_sentence("[Your Name]", evidence, REFERENCE).placeholder
    assert not judge("Thank you for your order.\n\nBest regards,\n[Your Name]").grounded
    # a template's figures never filled in (real Bitext answers), not a key or a real number of days
    for template in ("Standard shipping usually takes around X to Y business days, depending on where.",
                     "The refund process typically takes X business days to complete."):
        assert check_sentence(template, evidence, REFERENCE).placeholder
    for real in ("Press X to close the window.", "Refunds take 5 to 7 business days."):
        assert not check_sentence(real, evidence, REFERENCE).placeholder


def test_a_sentence_mostly_absent_from_the_sources_is_unsupported() -> None:
    made_up = ("Once you've opened this toggle, you'll be able to select closing at the top right "
               "corner of the screen.")
    check = judge(made_up)
    assert not check.grounded and check.unsupported[0].startswith("unsupported")


def test_cut_off_and_looping_answers_are_recognised() -> None:
    assert is_cut_off("Log in to your account and go to the")
    assert not is_cut_off("Log in to your account.\n")
    loop = "Please log in to your account. " * 3
    assert is_looping(loop) and not is_looping(REFERENCE)


def test_sentences_split_back_into_the_text_and_keep_list_numbers_with_their_items() -> None:
    pieces = split_sentences(REFERENCE)
    assert "".join(pieces) == REFERENCE
    assert "1. Log in to your account on our website.\n" in pieces
    assert not any(p.strip() in ("1.", "2.", "3.") for p in pieces)


def test_list_numbers_are_not_specifics() -> None:
    assert [s.kind for s in specifics("1. Log in.\n2. Open the page.")] == []


def test_the_adjective_of_a_country_the_customer_named_is_theirs() -> None:
    """Bitext's "do you ship to Canada?" answer, for a customer who asked about Canada: "Canadian" is
    the customer's country; for one who asked about Norway it is invented."""
    from assistant.grounding import evidence_texts

    answer = "Enter your Canadian delivery address, and the available shipping options will be presented."
    reference = "Enter your delivery address, and the available shipping options will be presented."
    for said, invented in ((["how many days shiping to Canada usualy?"], ()),
                           (["do you ship to norway"], ("name:Canadian",))):
        evidence = [reference, *evidence_texts([], said, {})]
        assert check_answer(answer, evidence, [reference]).invented == invented
