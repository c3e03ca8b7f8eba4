"""Answers composed from the best record (assistant.compose): placeholders made this customer's."""

from __future__ import annotations

import dataclasses

from assistant.compose import asks_for_details, asks_yes_or_no, compose, compose_best, offers_unset_contact
from knowledge.placeholders import numbered_values as customer_values
from knowledge.records import Hit, Record

RESOLUTION = ("I understand that you're having difficulty locating order number {{Order Number}}. "
              "Search for the order with the number {{Order Number Anonymized}} on our {{Website Name}}. "
              "If it is not there, call us at {{Customer Support Phone Number}}.")
HIT = Hit(record=Record(id="r1", request="where is order 3707955617", resolution=RESOLUTION,
                        intent="track_order"), score=0.9, text="")


def test_the_order_number_the_customer_gave_fills_the_record() -> None:
    text = compose(HIT, {}, ["hi, my order #48213 never arrived"])
    assert "order number 48213" in text and "the number 48213" in text and "{{" not in text


def test_without_one_the_answer_stays_generic_and_reads_well() -> None:
    text = compose(HIT, {}, ["where is my parcel?"])
    assert text.startswith("I understand that you're having difficulty locating your order.")
    assert "Search for your order on our website." in text
    # "call us at our customer support phone number" would tell the customer nothing: it goes
    assert "call us" not in text and "phone" not in text


def test_company_config_values_fill_their_placeholders() -> None:
    text = compose(HIT, {"website_name": "acme.example", "customer_support_phone_number": "+1 555 0100"}, [])
    assert "acme.example" in text and "If it is not there, call us at +1 555 0100." in text


def test_a_line_that_introduced_a_contact_nobody_set_goes_with_it() -> None:
    """Real Bitext resolutions: the customer asked for the number, the config sets none."""
    asked = Hit(record=Record(id="r2", request="I need the customer service phone number", resolution=(
        "I can definitely provide you with a phone number to contact our customer support team. "
        "Here's the phone number:\n\n{{Customer Support Phone Number}}\n\nOur dedicated customer support "
        "agents are available during {{Customer Support Hours}} to assist you."),
        intent="contact_customer_service"), score=0.9, text="")
    text = compose(asked, {}, ["what's your phone number?"])
    assert "Here's the phone number" not in text and "{{" not in text
    assert text.endswith("agents are available during our business hours to assist you.")
    assert "Here's the phone number:\n\n+1 555 0100" in compose(
        asked, {"customer_support_phone_number": "+1 555 0100"}, [])
    channels = Hit(record=Record(id="r3", request="how do I contact you", resolution=(
        "You can reach us through the following channels:\n\n- Phone: {{Customer Support Phone Number}}\n"
        "- Email: {{Customer Support Email}}\n- Live Chat: on our {{Website Name}}.\n\nWe are glad to help."),
        intent="contact_customer_service"), score=0.9, text="")
    text = compose(channels, {}, [])
    assert text == ("You can reach us through the following channels:\n\n- Live Chat: on our website.\n\n"
                    "We are glad to help.")
    # a record whose words already read as our generic phrase is treated the same
    literal = Hit(record=Record(id="r4", request="how to buy", resolution=(
        "Add it to your cart. You can contact them through our customer support phone number or via live "
        "chat."), intent="place_order"), score=0.9, text="")
    assert compose(literal, {}, []) == "Add it to your cart. You can contact them via live chat."
    provided = Hit(record=Record(id="r5", request="close my account", resolution=(
        "Follow the instructions on your screen. Please contact them using the provided support phone "
        "number or reach out through the live chat feature on our website."), intent="delete_account"),
        score=0.9, text="")
    tollfree = Hit(record=Record(id="r6", request="I need help", resolution=(
        "Reach out through our designated channels, such as our toll-free helpline at {{Customer Support "
        "Phone Number}} or utilize our online live chat feature. We are glad to help."),
        intent="contact_customer_service"), score=0.9, text="")
    assert compose(tollfree, {}, []) == "We are glad to help."  # no helpline without its number
    assert compose(provided, {}, []) == ("Follow the instructions on your screen. Please contact them "
                                         "or reach out through the live chat feature on our website.")


def test_the_way_named_before_a_contact_nobody_set_goes_with_it() -> None:
    """Real Bitext wording (148 of its resolutions say "by phone at {{...}} or ..."): "by phone
    through our live chat" would tell the customer to phone the chat."""
    hit = Hit(record=Record(id="r7", request="what are your hours", resolution=(
        "Our team is available {{Customer Support Hours}}. Reach out to them by phone at {{Customer Support "
        "Phone Number}} or through our {{Live Chat}} feature on the website."),
        intent="contact_customer_service"), score=0.9, text="")
    assert compose(hit, {}, []) == ("Our team is available during our business hours. Reach out to them "
                                    "through our live chat feature on the website.")
    assert "by phone at +1 555 0100 or through our live chat" in compose(
        hit, {"customer_support_phone_number": "+1 555 0100"}, [])
    # a hotline is a way named too (real Bitext wording, about 30 resolutions)
    hotline = _bitext("how to reach you", "They can be reached at any time through our customer "
                      "service hotline at {{Customer Support Phone Number}} or via live chat on our website. "
                      "You can also visit our website or call our customer support hotline at {{Customer "
                      "Support Phone Number}}.")
    assert compose(hotline, {}, []) == ("They can be reached at any time via live chat on our website. "
                                        "You can also visit our website.")


def test_a_numbered_placeholder_has_no_generic_words() -> None:
    """A real Bitext row: "the review website 1" would name no website."""
    hit = Hit(record=Record(id="r8", request="where can I leave a review about a service?", resolution=(
        "I'm here to guide you in leaving a review about our service. You can share your feedback on "
        "platforms such as {{Review Website 1}}, {{Review Website 2}}, or {{Review Website 3}}. "
        "We value your feedback and appreciate your time in helping us improve our services."),
        intent="review"),
        score=0.9, text="")
    assert compose(hit, {}, []) == ("I'm here to guide you in leaving a review about our service. We "
                                    "value your feedback and appreciate your time in helping us improve "
                                    "our services.")
    sites = {"review_website_1": "Trustpilot", "review_website_2": "Google", "review_website_3": "Yelp"}
    assert "such as Trustpilot, Google, or Yelp." in compose(hit, sites, [])


def test_order_invoice_and_tracking_numbers_in_many_spellings() -> None:
    assert customer_values(["order ORD-55102 pls"])["order_number"] == "ORD-55102"
    # an id that is its own keyword: the whole of it, not "-55102"
    assert customer_values(["pls cancel ORD-55102 asap"])["order_number"] == "ORD-55102"
    assert customer_values(["ORD55102 is late"])["order_number"] == "ORD55102"
    assert customer_values(["Can you swap it in the same order? Order 4471-B."])["order_number"] == "4471-B"
    assert customer_values(["my order number is 48213"])["order_number"] == "48213"
    # speech to text writes "order 40,981" for "order 40981"
    assert customer_values(["can you check the status of order 40,981?"])["order_number"] == "40981"
    assert "order number ORD-55102" in compose(HIT, {}, ["pls cancel ORD-55102 asap"])
    assert customer_values(["purchase no. 771-2290"])["purchase_id"] == "771-2290"
    assert customer_values(["invoice #INV-2024-881 is wrong"])["invoice_number"] == "INV-2024-881"
    assert customer_values(["tracking number 1Z999AA10123456784"])["tracking_number"] == "1Z999AA10123456784"
    assert customer_values(["I ordered 3 items on 12/03"]) == {}


def test_the_number_the_records_own_customer_gave_is_never_repeated_to_another() -> None:
    resolution = "I see you want to cancel order number 113542617735902. Open 113542617735902 in My Orders."
    record = Record(id="r2", request="how can I cancel purchase 113542617735902?", resolution=resolution,
                    intent="cancel_order")
    hit = Hit(record=record, score=0.9, text="")
    assert "113542617735902" not in compose(hit, {}, ["cancel my order please"])
    assert compose(hit, {}, ["cancel order 48213"]).count("48213") == 2


def test_bracketed_placeholders_are_filled_and_a_sentence_with_an_unknown_one_is_left_out() -> None:
    resolution = ("Our team can be reached at [Customer Support Phone Number] or through [Live Chat].\n"
                  "We answer from [start time] to [end time].\nThank you for your patience.")
    hit = Hit(record=Record(id="r3", request="how do I reach you", resolution=resolution), score=0.9, text="")
    text = compose(hit, {"customer_support_phone_number": "+1 555 0100"}, [])
    assert text == ("Our team can be reached at +1 555 0100 or through live chat.\n"
                    "Thank you for your patience.")
    # With no number set, the other way stays: bracketed like braced (58 Bitext answers kept their
    # live chat this way).
    assert compose(hit, {}, []) == "Our team can be reached through live chat.\nThank you for your patience."


def _answer(resolution: str, request: str = "help") -> Hit:
    return Hit(record=Record(id="r", request=request, resolution=resolution), score=0.9, text="")


def test_the_other_way_stays_when_the_unset_one_ends_the_sentence_in_words_of_its_own() -> None:
    # Real Bitext rows: the refund steps lost their first step whole, which left "2. Explain your
    # situation" with no one to explain it to.
    hit = _answer("To initiate the refund process, please follow these steps:\n\n"
                  "1. Get in touch with our customer support team through our {{Live Chat}} on the website, "
                  "or you can reach them directly at {{Customer Support Phone Number}}.\n"
                  "2. Explain your situation and the reason for requesting the refund.",
                  "I need help to request a refund of money")
    assert compose(hit, {}, ["I'd like my money back"]) == (
        "To initiate the refund process, please follow these steps:\n\n"
        "1. Get in touch with our customer support team through our live chat on the website.\n"
        "2. Explain your situation and the reason for requesting the refund.")
    number = compose(hit, {"customer_support_phone_number": "+1 555 0100"}, [])
    assert "or you can reach them directly at +1 555 0100." in number
    for ending in ("or can be contacted at", "or by calling our dedicated support hotline,"):
        closing = _answer(f"They are available through our live chat on the website {ending} "
                          "{{Support Phone Number}}.")
        assert compose(closing, {}, []) == "They are available through our live chat on the website."
    # The last of a list: "via live chat, email." would read as a list cut short; the sentence goes.
    listed = _answer("Thanks for asking. They are available via live chat, email, or phone at "
                     "{{Customer Support Phone Number}}.")
    assert compose(listed, {}, []) == "Thanks for asking."
    # With no other way before it, the sentence promises only the number: it goes whole.
    alone = _answer("Thanks for asking. Write to us, or you can reach us directly at "
                    "{{Customer Support Phone Number}}.")
    assert compose(alone, {}, []) == "Thanks for asking."


def test_the_other_way_left_alone_is_not_introduced_as_an_alternative() -> None:
    # Real Bitext text: with no number set the call goes, and "Alternatively, ... also" pointed at it.
    text = compose(_answer("Glad to help. You can reach them by giving us a call at "
                           "{{Customer Support Phone Number}}. Alternatively, you can also connect with our "
                           "customer assistance team through our live chat feature on our website."), {}, [])
    assert text == ("Glad to help. You can connect with our customer assistance team through our live chat "
                    "feature on our website.")
    # with the number set, both ways stay as written
    assert "Alternatively, you can also connect" in compose(_answer(
        "You can reach them by giving us a call at {{Customer Support Phone Number}}. Alternatively, you can "
        "also connect with us through our live chat."), {"customer_support_phone_number": "+1 555 0100"}, [])


def test_the_phone_named_as_a_way_without_a_number_is_not_offered() -> None:
    # Real Bitext rows: "Contact our customer support team either by phone or through our online chat."
    # sent a customer to a phone line when no number is set.
    hit = _answer((
        "1. Contact our customer support team either by phone or through our online chat. They are "
        "available 24/7 to address your complaint promptly.\n"
        "2. You can contact them via email, phone, or live chat on our website.\n"
        "3. You can reach them through our support hotline or by using the live chat feature on our site.\n"
        "4. Please don't hesitate to contact them via our website or by phone.\n"
        "5. Choose your preferred method of communication, such as email, live chat, or phone.\n"
        "6. Have your phone number or email address ready.\n"
        "7. Get in touch with them through our helpline number or live chat support."),
        "I would like to file a complaint, how to do it?")
    assert compose(hit, {}, ["how do i file a complaint"]) == (
        "1. Contact our customer support team through our online chat. They are available 24/7 to address "
        "your complaint promptly.\n"
        "2. You can contact them via email or live chat on our website.\n"
        "3. You can reach them by using the live chat feature on our site.\n"
        "4. Please don't hesitate to contact them via our website.\n"
        # the last of a longer list stays as it was; so does the customer's own phone number
        "5. Choose your preferred method of communication, such as email, live chat, or phone.\n"
        "6. Have your phone number or email address ready.\n"
        "7. Get in touch with them through live chat support.")
    with_number = compose(hit, {"customer_support_phone_number": "+1 555 0100"}, [])
    assert "either by phone or through our online chat" in with_number
    assert "email, phone, or live" in with_number


def test_when_every_near_record_asks_for_details_a_farther_one_of_its_intent_says_what_to_do() -> None:
    # Real Bitext delivery_period answers: "how long does delivery take?" read "could you please
    # provide me with the order number [...]? This will allow me to access the specific details".
    asks = ("I completely understand your curiosity about the delivery period of your package. To assist "
            "you, could you please provide me with the order number or tracking number of your package? "
            "This will allow me to access the specific details.")
    shows = ("Finding information about the estimated delivery time is essential, and I'm here to guide you. "
             "To access the estimated delivery time for your order, please follow these steps:\n\n"
             "1. First, log in to your account on our {{Website Name}} or open the order tracking page.\n"
             "2. Locate the specific order you want to track.\n3. Click on the order details to expand the "
             "information.\n4. Look for the estimated delivery time, which should be clearly stated there.")
    def hit(n: int, resolution: str, score: float, intent: str = "delivery_period") -> Hit:
        return Hit(record=Record(id=f"d{n}", request="how long does delivery take", resolution=resolution,
                                 intent=intent), score=score, text="")
    found = [hit(1, asks, 0.80), hit(2, asks, 0.79), hit(3, "Your order can be cancelled from Order History. "
             "Open it and press Cancel, then confirm the cancellation in the window that opens.", 0.75,
             "cancel_order"), hit(4, shows, 0.62)]
    assert compose_best(found, {}, ["how long does delivery take?"], floor=0.55).startswith(
        "Finding information about the estimated delivery time is essential, and I'm here to guide you.")
    assert compose_best(found, {}, ["how long does delivery take?"], floor=0.65).startswith(
        "I completely understand")  # too far to answer from
    # with none that says what to do, the nearest still answers, as before
    assert compose_best(found[:3], {}, ["how long does delivery take?"]).startswith("I completely understand")
    # an intent the customer chose from a clarifying question: every record of it is below the floor
    chosen = [dataclasses.replace(h, score=h.score - 0.35) for h in found]
    assert compose_best(chosen, {}, ["how long does delivery take?"], floor=0.55).startswith(
        "Finding information about the estimated delivery time is essential")


# Real Bitext rows (demo/bitext/records.csv) that read wrong before: another customer's amount,
# a half-filled placeholder, and the same words twice.

def _bitext(request: str, response: str, entity_type: str = "", entity_value: str = "") -> Hit:
    from knowledge.importers.tabular import bitext_placeholders
    resolution = bitext_placeholders(response, request, entity_type, entity_value)
    return Hit(record=Record(id="b", request=request, resolution=resolution, intent="x"), score=0.9, text="")


REFUND_299 = _bitext("I am waiting for a refund of $299, has it been processed?",
                     "I understand your concern about the refund of $299. Allow me to assist you with that. "
                     "Look for the transaction related to the amount of $299.")


def test_another_customers_amount_is_never_repeated() -> None:
    text = compose(REFUND_299, {}, ["Has my refund been processed yet?"])
    assert text.startswith("I understand your concern about the refund. Allow me to assist you with that.")
    assert "299" not in text and "{{" not in text  # the sentence that only names the amount goes


def test_the_amount_this_customer_gave_is_used_and_two_amounts_are_not_guessed_between() -> None:
    assert "the refund of $45." in compose(REFUND_299, {}, ["where is my refund of $45?"])
    text = compose(REFUND_299, {}, ["I paid $80 and only $45 came back, where is the rest?"])
    assert text.startswith("I understand your concern about the refund.") and "$" not in text


def test_an_id_the_dataset_wrote_in_braces_leaves_no_stray_braces() -> None:
    hit = _bitext("I cannot afford this item, cancel order 113542617735902",
                  "I understand that you would like to cancel your order with the number "
                  "{{113542617735902}}. 3. Look for the order {{113542617735902}}.",
                  "order_id", "113542617735902")
    text = compose(hit, {}, ["cant afford it anymore, please cancel"])
    assert "}" not in text and "113542617735902" not in text
    assert "cancel your order." in text and "Look for your order." in text


# Bitext's anonymiser left a hash where this record's customer's order number was.
HASHED_ORDER = _bitext("cancel order 3707955617",
                       "I understand that you would like to cancel the order with the number "
                       "{{7C23D0EF3E8A2D89E89176EFDAA748B42A613942012DD9CE1AB237D72381004B}}. I'm here to "
                       "assist you in this process.\n3. Look for the order with the number "
                       "{{7C23D0EF3E8A2D89E89176EFDAA748B42A613942012DD9CE1AB237D72381004B}}.",
                       "order_id", "3707955617")


def test_a_hash_the_dataset_left_for_an_order_number_is_this_customers_number_or_none() -> None:
    mine = compose(HASHED_ORDER, {}, ["dont want to talk to anyone, just cancel order 3318-07"])
    assert "7C23D0EF" not in mine and "the order with the number 3318-07." in mine
    assert "Look for the order with the number 3318-07." in mine
    none = compose(HASHED_ORDER, {}, ["cancel my order please"])
    assert "7C23D0EF" not in none and "{{" not in none
    assert "cancel your order." in none and "Look for your order." in none


def test_a_long_number_the_answer_calls_an_orders_is_never_another_customers() -> None:
    # The dataset's request gave one number and its answer another.
    hit = _bitext("i have a problem with cancelling purchase  00004587345",
                  "I'm here to assist you in canceling your purchase with the order number 732201349959. "
                  "Let's make this process as smooth as possible.\n3. Identify the order bearing the number "
                  "732201349959.\n4. There should be a 'Cancel Order' button adjacent to the order details.",
                  "order_id", "4587345")
    none = compose(hit, {}, ["i cant cancel my purchase"])
    assert "732201349959" not in none and "Identify the order." in none
    mine = compose(hit, {}, ["i cant cancel purchase 48213"])
    assert "732201349959" not in mine and "Identify the order bearing the number 48213." in mine


def test_an_amount_only_the_records_customer_had_is_left_out() -> None:
    rebate = _bitext("I am trying to obtain a fucking rebate of money",
                     "4. Provide the required information, including the specific transaction details "
                     "and the amount you are requesting (in this case, $1200).\n5. Submit your request.")
    text = compose(rebate, {}, ["how do i get my money back"])
    assert "$1200" not in text and "the amount you are requesting." in text
    # an amount written onto the word before it is still that customer's
    glued = _bitext("I am waiting for a compensation of350 dollars",
                    "I understand that you are waiting for a compensation of 350 dollars. Our team is "
                    "committed to resolving your concerns promptly.")
    assert "350" not in compose(glued, {}, ["still waiting for my compensation"])
    assert "a compensation of $20." in compose(glued, {}, ["still waiting for my compensation of $20"])


def test_a_placeholder_after_its_own_generic_words_is_not_said_twice() -> None:
    hit = _bitext("how do I open an account", "1. Log into your account on our website, {{Website Name}}.\n"
                  "2. Go to our {{Website Name}} website.\nWe answer during {{Customer Support Hours}}.")
    text = compose(hit, {}, ["how do I open an account"])
    assert "on our website." in text and "Go to our website." in text
    assert "during our business hours" in text and "during during" not in text
    named = compose(hit, {"website_name": "acme.example"}, [])
    assert "on our website, acme.example." in named and "Go to our acme.example website." in named


def test_a_time_the_records_customer_gave_is_not_theirs_to_read() -> None:
    hit = _bitext("getting invoice from 8 months ago",
                  "To obtain an invoice from 8 months ago, please follow these steps:\n"
                  "1. Open the billing section.\n"
                  "2. Set the date range to cover the desired period, which, in your case, is 8 months ago.")
    text = compose(hit, {}, ["how do I get an old invoice"])
    assert text == "To obtain an invoice, please follow these steps:\n1. Open the billing section."
    # with nothing left after it, "follow these steps:" would promise steps that are not there
    bare = _bitext("getting invoice from 8 months ago", "To obtain an invoice, follow these steps:\n"
                   "Set the date range to the period, which, in your case, is 8 months ago.")
    assert compose(bare, {}, ["how do I get an old invoice"]) == ""
    mailed = _bitext("I need my invoice from last year by mail",
                     "Sure, I can help you request your invoice from last year to be mailed to you.")
    # (its "Sure," went too: a yes to "can you email me" the history never gave)
    assert compose(mailed, {}, ["can you email me the invoice?"]) == (
        "I can help you request your invoice to be mailed to you.")
    assert compose(mailed, {}, ["I need the invoice from last year"]).startswith("Sure, I can help you")
    assert "from last year" in compose(mailed, {}, ["I need last year's invoice, from last year"])


def test_an_answer_that_only_acknowledges_gives_way_to_a_fuller_one() -> None:
    from assistant.compose import compose_best

    thin = Hit(record=Record(
        id="t", request="is it possible to cancel order 370795561790?", intent="cancel_order",
        resolution="You are wondering if it is possible to cancel order number 370795561790. "
                   "I'm here to help you through the cancellation process."), score=0.80, text="")
    steps = ("To cancel your order: 1. Log in to your account. 2. Open Order History. 3. Choose the order "
             "and select Cancel. 4. Confirm, and you will receive an email confirming the cancellation. If "
             "the order has already shipped, you can return it instead once it arrives.")
    full = Hit(record=Record(id="f", request="cancel my order", intent="cancel_order", resolution=steps),
               score=0.76, text="")
    other = Hit(record=Record(id="o", request="track order", intent="track_order", resolution=steps),
                score=0.79, text="")
    assert compose_best([thin, full], {}, ["can I still cancel order 30917?"]) == steps
    assert compose_best([thin, other], {}, ["can I still cancel order 30917?"]).startswith(
        "You are wondering if it is possible to cancel order number 30917.")  # another intent: no
    far = Hit(record=full.record, score=0.60, text="")
    # farther, it answers only when every near one reads poorly and it reaches the answering bar
    assert "30917" in compose_best([thin, far], {}, ["can I still cancel order 30917?"], floor=0.65)
    assert compose_best([thin, far], {}, ["can I still cancel order 30917?"], floor=0.55) == steps


def test_template_digits_left_in_an_answer_are_not_read_to_a_customer() -> None:
    hit = _bitext("what delivery methods do you offer",
                  "We offer several delivery methods.\n1. Standard Shipping: It usually takes X-XX business "
                  "days for the package to arrive.\n2. Express Shipping: faster delivery for urgent orders.")
    text = compose(hit, {}, ["what delivery methods do you offer?"])
    assert "X-XX" not in text and "Express Shipping" in text


def test_the_kind_of_account_another_customer_named_is_not_this_ones() -> None:
    """Bitext: "create new platinum account" was answered "Creating a new platinum account is a great
    choice!"; a customer who asked for an account, of no kind, must not read that."""
    resolution = ("Creating a new platinum account is a great choice! Platinum accounts include priority "
                  "support. To open your platinum account, follow these steps:\n\n1. Visit {{Website URL}}."
                  "\n2. Select Sign Up.")
    hit = Hit(record=Record(id="r", request="create new platinum account", resolution=resolution,
                            intent="create_account"), score=0.9, text="")
    plain = compose(hit, {}, ["make me an account"])
    assert "platinum" not in plain.lower()
    # the kind being created needs no name; what that kind includes is no promise to this customer
    assert plain.startswith("Creating a new account is a great choice! To open your account, follow these "
                            "steps:") and "2. Select Sign Up." in plain
    theirs = compose(hit, {}, ["I'd like a Platinum account please"])
    assert theirs.startswith("Creating a new platinum account is a great choice! Platinum accounts include")


SWITCH_PREMIUM = _bitext(
    "switching to premium account",
    "If you wish to switch to a premium account, please take the following steps:\n\n"
    "1. Log in to your account at our website.\n2. Locate the account settings section.\n"
    "3. Look for the option to switch or upgrade to a premium account.\n"
    "4. Follow the on-screen instructions. Feel free to ask us anything.",
    "account_type", "premium")


def test_bitexts_labelled_account_kind_is_this_customers_only_when_they_named_it() -> None:
    theirs = compose(SWITCH_PREMIUM, {}, ["how do I switch to premium account?"])
    assert theirs.startswith("If you wish to switch to a premium account")
    assert "3. Look for the option" in theirs
    plain = compose(SWITCH_PREMIUM, {}, ["how do I change my account"])
    assert "premium" not in plain.lower() and "Feel free to ask us anything." in plain  # not the "free" kind
    # the kind switched to is whichever this customer wants: no steps lost
    assert plain.startswith("If you wish to switch to another account type, please take the following steps:")
    assert ("3. Look for the option to switch or upgrade to another account type.\n4. Follow the on-screen"
            in plain)


def test_an_amount_of_the_records_customer_is_never_read_to_another() -> None:
    """Real Bitext record: its request was cut short ("$1"), its answer says $160."""
    hit = _bitext("rebating $1", "I understand that you are looking to request a rebate of $160. Allow me to "
                  "guide you through the necessary steps to initiate the refund process:\n1. Log in to your "
                  "account.\n2. Open the Refunds section.")
    text = compose(hit, {}, ["still waiting on my refnd"])
    assert "160" not in text and text.startswith("I understand that you are looking to request a rebate.")
    assert "a rebate of $45." in compose(hit, {}, ["I want my $45 back"])


def found(record_id: str, request: str, intent: str, resolution: str, score: float) -> Hit:
    """A hit on a real Bitext record."""
    return Hit(record=Record(id=record_id, request=request, intent=intent, resolution=resolution),
               score=score, text="")


# Two real Bitext records of one intent: the first asks for details the agent then used.
ASKS = found(
    "n1", "I can't cancel my subscription to your company newsletter", "newsletter_subscription",
    ("I'm sorry to hear that you're experiencing difficulties canceling your subscription "
                "to our company newsletter. I would be happy to assist you in this matter. To better "
                "understand the situation and provide you with appropriate guidance, could you please "
                "provide me with your email address or any other information related to your "
                "subscription? Once I have the necessary details, I will personally look into the "
                "matter and ensure that your subscription is canceled."), 0.71)
STEPS = found(
    "n2", "were do i unsubscribe from ur newsletter", "newsletter_subscription",
    ("I understand that you would like to unsubscribe from our newsletter. To unsubscribe, "
                "please follow these steps:\n\n1. Look for the latest newsletter that you received "
                "from us in your inbox.\n2. Scroll down to the bottom of the email.\n3. You should "
                "find an \"Unsubscribe\" or \"Manage Preferences\" link.\n4. Click on the link, and "
                "follow the instructions on the page."), 0.66)


def test_a_record_that_says_what_to_do_beats_one_asking_for_details_the_assistant_cannot_use() -> None:
    assert asks_for_details(ASKS.record.resolution) and not asks_for_details(STEPS.record.resolution)
    steps = compose_best([ASKS, STEPS], {}, ["unsubscribe"])
    assert steps.startswith("I understand that you would like to unsubscribe")
    # a farther one of the same intent only when it reaches the answering bar (`floor`)
    far = dataclasses.replace(STEPS, score=0.5)
    assert compose_best([ASKS, far], {}, ["unsubscribe"], floor=0.55).startswith("I'm sorry to hear")
    assert compose_best([ASKS, far], {}, ["unsubscribe"], floor=0.5).startswith("I understand that you")
    other = dataclasses.replace(STEPS, record=dataclasses.replace(STEPS.record, intent="delete_account"))
    assert compose_best([ASKS, other], {}, ["unsubscribe"]).startswith("I'm sorry to hear")
    for polite in ("Let me provide you with the necessary information.",
                   "Feel free to share your thoughts with us.",
                   "4. Provide the required information, such as your email address."):
        assert not asks_for_details(polite)


def test_asking_the_customer_to_describe_the_error_is_asking_for_details_too() -> None:
    """Real Bitext registration records: a customer who wrote "the confirmation email never came" has
    described the error already; the record that says where to report it answers."""
    describe = dataclasses.replace(ASKS, record=Record(
        id="r1", request="I can't sign up, help me informing of a registration issue",
        intent="registration_problems",
        resolution=("I'm sorry to hear that you're having trouble signing up. Don't worry, we'll assist "
                    "you in resolving this registration issue. To better understand the problem, could you "
                    "please describe the specific error or message you encounter when attempting to sign up? "
                    "This information will enable us to provide you with the necessary guidance.")))
    report = dataclasses.replace(STEPS, record=Record(
        id="r2", request="I have got to report a signup issue", intent="registration_problems",
        resolution=("I understand that you are facing some issues with the signup process. To report a "
                    "signup problem, please follow these steps:\n\n1. Look for the \"Help\" or \"Support\" "
                    "section on the website.\n2. Click on the \"Contact Us\" or \"Support Center\" link.\n"
                    "3. Fill out the contact form provided, including a detailed description of the signup "
                    "issue you are experiencing.\n4. Submit the form and our support team will get back to "
                    "you as soon as possible.")))
    assert asks_for_details(describe.record.resolution)
    assert asks_for_details("Please explain what happens when you try to log in.")
    assert asks_for_details("To start, could you please let me know which item you are interested in "
                            "purchasing?")
    assert not asks_for_details("Please let me know if you have any other questions.")
    assert asks_for_details("In order to assist you more effectively, may I kindly ask for the order number "
                            "or tracking number of the package?")
    assert not asks_for_details(report.record.resolution)
    assert not asks_for_details("1. Describe the problem in the contact form.")
    # Bitext, track_refund: a list of what to send, then what the agent would do with it
    assert asks_for_details("To assist you further, I kindly request additional information such as:\n"
                            "1. The date when the refund request was made.")
    assert asks_for_details("Once you provide these details, I can investigate the status of your refund.")
    # Bitext, payment_issue: a list of what to send, the card number among it
    assert asks_for_details("1. Provide us with the specific details of the payment error, such as the date, "
                            "time, and amount of the transaction.")
    assert not asks_for_details("Enter the necessary details, including the amount and relevant transaction "
                                "information.")
    said = ["Registration isn't working, the confirmation email never came"]
    answer = compose_best([describe, report], {}, said)
    assert answer.startswith("I understand that you are facing some issues with the signup process.")


# Real Bitext create_account record: its customer asked for their wife.
WIFE = ("how to create a free account for my wife",
        "I understand that you would like to create a free account for your wife. To do so, please follow "
        "these steps:\n\n1. Visit our {{Website Name}} homepage.\n2. Look for the \"Sign Up\" or \"Create an "
        "Account\" button.\n3. Fill in the required information, such as your wife's name, email address, "
        "and password.\n4. Click on the \"Create Account\" button.\n5. You may receive a verification "
        "email. Ask your wife to check her email and follow the instructions to verify the account.")


def test_a_person_only_the_records_customer_named_is_not_spoken_of() -> None:
    hit = _bitext(*WIFE, entity_type="account_type", entity_value="free")
    flatmate = compose(hit, {}, ["My flatmate wants her own account. How does she create one?"])
    assert flatmate == ("Please follow these steps:\n\n1. Visit our website homepage.\n2. Look for the "
                        "\"Sign Up\" or \"Create an Account\" button.\n3. Click on the \"Create Account\" "
                        "button.\n4. You may receive a verification email.")
    assert "wife" not in compose(hit, {}, ["how do I open an account"])
    wife = compose(hit, {}, ["how can my wife create an account?"])
    assert "3. Fill in the required information, such as your wife's name" in wife
    assert "Ask your wife to check her email" in wife
    # a partner of the business is nobody's partner: the request named no one
    partners = _bitext("can i place an order from Detroit", "We work with shipping partners in many cities.")
    assert compose(partners, {}, ["do you ship to Leeds"]) == "We work with shipping partners in many cities."


def test_a_step_with_a_template_figure_never_filled_in_goes() -> None:
    """Real Bitext delivery_period record: "X to Y business days" was never filled in."""
    hit = _bitext("give me information about the shipping periods", (
        "I understand that you're seeking information related to shipping periods. Here's what you need "
        "to know:\n\n1. Our shipping periods typically depend on the shipping method you selected during "
        "checkout.\n2. Standard shipping usually takes around X to Y business days, depending on your "
        "location.\n3. Expedited shipping ensures faster delivery, typically within X business days.\n4. "
        "Please note that these shipping periods are estimates and may be subject to unforeseen delays."))
    assert compose(hit, {}, ["How many days does shipping take to Scotland?"]).endswith(
        "during checkout.\n2. Please note that these shipping periods are estimates and may be subject to "
        "unforeseen delays.")


def test_of_two_ways_to_reach_the_company_the_one_that_is_set_stays() -> None:
    """Real Bitext resolutions: the phone number is not set, the live chat is."""
    complaint = _bitext("I want to lodge a complaint", (
        "To lodge a complaint, please follow these steps:\n\n1. Contact our customer support team at "
        "{{Customer Support Phone Number}} or through our {{Live Chat}} on the website. They are available "
        "to assist you.\n2. Provide them with all the necessary details.\n\nWe take complaints seriously."))
    assert compose(complaint, {}, ["I want to complain"]) == (
        "To lodge a complaint, please follow these steps:\n\n1. Contact our customer support team through "
        "our live chat on the website. They are available to assist you.\n2. Provide them with all the "
        "necessary details.\n\nWe take complaints seriously.")
    other = _bitext("how do I get help", "You can reach them through the {{Live Chat}} or by calling "
                    "{{Customer Support Phone Number}}.")
    assert compose(other, {}, ["help"]) == "You can reach them through the live chat."
    bare = _bitext("how do I get help", "You can reach them through {{Customer Support Phone Number}} or the "
                   "{{Live Chat}} on our website.")  # the preposition is the phone's and the chat's
    assert compose(bare, {}, ["help"]) == "You can reach them through the live chat on our website."
    assert compose(other, {"customer_support_phone_number": "+1 555 0100"}, ["help"]).endswith(
        "live chat or by calling +1 555 0100.")


def test_a_list_item_whose_first_sentence_goes_goes_whole() -> None:
    hit = _bitext("complaint", "Please follow these steps:\n\n1. Call us at {{Customer Support Phone "
                  "Number}}. They are available to assist you.\n2. Describe the problem.")
    assert compose(hit, {}, ["complaint"]) == "Please follow these steps:\n\n1. Describe the problem."


def test_the_paragraph_break_after_a_sentence_that_went_stays() -> None:
    """A real Bitext shape (44 of its resolutions): the line that introduced the steps names the
    record's own kind of account, so it goes; its list must not start on the line before, nor be
    renumbered from its second step."""
    hit = _bitext("I want the gold account perks", "Don't worry, I'm here to help! To enjoy the "
                  "{{Account Type}} account perks, follow these steps:\n\n1. Log in to your account.\n"
                  "2. Go to your account settings.\n3. Look for the \"Account Type\" option.")
    assert compose(hit, {}, ["I want to upgrade"]) == (
        "Don't worry, I'm here to help!\n\n1. Log in to your account.\n2. Go to your account settings.\n"
        "3. Look for the \"Account Type\" option.")


def test_a_way_without_words_of_its_own_is_not_cut_out_of_its_sentence() -> None:
    """"Email {{Email}} or use the live chat": cutting "{{Email}} or" would read "Email use the live
    chat"; the sentence goes whole. The history's own vague words count as the placeholder."""
    hit = _bitext("contact", "Thanks for asking. Email {{Customer Support Email}} or use the {{Live Chat}}.")
    assert compose(hit, {}, []) == "Thanks for asking."
    vague = _bitext("register", "Please tell our support team about it. They can be reached through the "
                    "live chat option on our website or by calling our customer support number.")
    assert compose(vague, {}, []).endswith("through the live chat option on our website.")


def test_a_step_that_pointed_past_a_first_step_that_went_stands_alone() -> None:
    """Real Bitext steps: "1. Call {{Phone}} ...\\n2. Alternatively, you can visit our website" read
    "1. Alternatively, you can visit our website" with no phone set."""
    hit = _bitext("how do I contact you", "Please follow these steps:\n\n1. Call us at {{Customer Support "
                  "Phone Number}}.\n2. Alternatively, you can visit our website and open the \"Contact Us\" "
                  "page.\n3. Alternatively, use the live chat.")
    assert compose(hit, {}, []) == ("Please follow these steps:\n\n1. You can visit our website and open the "
                                    "\"Contact Us\" page.\n2. Alternatively, use the live chat.")


def test_a_sentence_that_points_back_at_one_that_went_goes_too() -> None:
    """A real Bitext answer (the newsletter): its only mention of the support team went with the phone
    number, so "They will be more than happy ..." would point at nobody. When a kept sentence still
    names the team, "They" stays."""
    hit = _bitext("how can I unsubscribe to the newsletter?",
                  "To unsubscribe, please follow these steps:\n\n1. Open the latest newsletter email you "
                  "received.\n4. Click on the link to unsubscribe from future newsletters.\n\nIf you are "
                  "still experiencing any difficulties, please call our customer support at "
                  "{{Customer Support Phone Number}}. They will be more than happy to assist you with the "
                  "process.")
    assert compose(hit, {}, []) == ("To unsubscribe, please follow these steps:\n\n1. Open the latest "
                                    "newsletter email you received.\n2. Click on the link to unsubscribe "
                                    "from future newsletters.")
    named = _bitext("close my account", "Please don't hesitate to contact our support team. They are "
                    "available round the clock at {{Customer Support Phone Number}}. They will be happy to "
                    "guide you.")
    assert compose(named, {}, []) == ("Please don't hesitate to contact our support team. They will be "
                                      "happy to guide you.")
    it = _bitext("how do I call you", "Thanks for asking. Locate {{Customer Support Phone Number}} on "
                 "our website. It may be listed under the Contact Us section. It would be my pleasure to "
                 "help.")
    assert compose(it, {}, []) == "Thanks for asking. It would be my pleasure to help."


def test_a_step_that_clicks_an_option_that_went_goes_too() -> None:
    """A Bitext answer whose step named the option by another customer's kind of account: when it goes
    (a Gold card's perks nobody here has), "Click on that option" would click nothing; a step that
    names its own option stays."""
    hit = _bitext("I want gold perks", "Here's how:\n\n1. Go to your account settings.\n2. Look for the "
                  "{{Account Type}} perks option.\n3. Click on that option and follow the instructions.\n"
                  "4. Open the Help tab and click on the Perks link.")
    assert compose(hit, {}, []) == ("Here's how:\n\n1. Go to your account settings.\n2. Open the Help tab "
                                    "and click on the Perks link.")


def test_a_kind_of_account_being_created_or_switched_to_needs_no_name() -> None:
    """Bitext's switch_account and create_account answers name the kind their own customer wanted;
    with none named here they read generically instead of losing their steps ("Click on that option"
    after "Look for the option to switch to a {{Account Type}} account" went)."""
    hit = _bitext("I want to downgrade to the free plan", "To switch to a {{Account Type}} account, follow "
                  "these steps:\n\n1. Go to your account settings.\n2. Look for the option to upgrade or "
                  "switch to the {{Account Type}} account.\n3. Click on that option.")
    assert compose(hit, {}, []) == ("To switch to another account type, follow these steps:\n\n1. Go to "
                                    "your account settings.\n2. Look for the option to upgrade or switch to "
                                    "another account type.\n3. Click on that option.")
    opened = _bitext("open an account", "I'm here to help you create a {{Account Type}} account. Opening a "
                     "new {{Account Type}} account takes a minute.")
    assert compose(opened, {}, []) == ("I'm here to help you create an account. Opening a new account takes "
                                       "a minute.")


def test_the_month_the_records_customer_asked_about_is_not_anothers() -> None:
    """A real Bitext answer ("check invoices from October") read to a customer who asked for this
    year's invoices: "Input or select "October"" is the other customer's month. The list it ended
    keeps its paragraph break."""
    hit = _bitext("check invoices from October",
                  "Certainly! I can help you check your invoices from October. Here's how you can do it:\n\n"
                  "1. Log into your account on our platform.\n2. Input or select \"October\" as the "
                  "timeframe.\n3. Review the list of invoices displayed to find the ones from October.\n\n"
                  "If you have any further questions, please reach out to our customer support team.")
    # ("Certainly!" goes too: a yes to a yes-or-no question the history never answered, see below)
    assert compose(hit, {}, ["Is there a way to view all of this year's invoices in one place?"]) == (
        "I can help you check your invoices. Here's how you can do it:\n\n1. Log into your "
        "account on our platform.\n\nIf you have any further questions, please reach out to our customer "
        "support team.")
    # This customer asked about October too: it is theirs.
    assert "select \"October\"" in compose(hit, {}, ["I need my invoices from october"])


def test_what_the_records_agent_looked_up_is_not_told_to_another_customer() -> None:
    """A real Bitext resolution (track_order, "check status of order 00004587345"): the agent read
    that customer's order status; told to another customer it is a status nobody checked."""
    hit = _bitext("check status of order 00004587345", "I understand your need to track the status of "
                  "your order with the number 00004587345. Let me assist you with that:\n\nOur system shows "
                  "that your order is currently in transit and is expected to arrive within the next 2 "
                  "business days. Please note that these are estimated delivery times.\n\nIf you need "
                  "anything else, reach out to our support team through the {{Live Chat}} on our website.",
                  "order_id", "00004587345")
    text = compose(hit, {}, ["where is my order 48213?"])
    assert "in transit" not in text and "2 business days" not in text and "Let me assist you" not in text
    assert text.startswith("I understand your need to track the status of your order with the number 48213.")
    from assistant.compose import not_for_this_customer
    assert not_for_this_customer("Based on our system, your order is scheduled to be delivered within 3 "
                                 "business days.")
    assert not_for_this_customer("I can see that you are expecting a refund of 299 dollars.")
    assert not not_for_this_customer("I can see that this is frustrating.")
    # a note to the writer, left in a generated history (4 Bitext resolutions)
    assert not_for_this_customer("Remember to showcase your in-depth product/service knowledge by providing "
                                 "precise instructions while maintaining empathy and patience (Role 1: "
                                 "Customer Service Representative).")
    assert not not_for_this_customer("Our records are kept for seven years.")


def test_a_contact_the_customer_asks_for_and_nobody_set_is_missing() -> None:
    """Real Bitext records and the customers' own words: only a record about that contact, asked
    for by its name, counts; a sign-up problem that mentions a phone number does not."""
    from assistant.compose import missing_contact

    free = Hit(record=Record(id="c1", request="do you have a free number to talk with customer assistance?",
                             intent="contact_customer_service", resolution=(
                                 "We offer a toll-free number for your convenience. You can contact our "
                                 "support team at {{Customer Support Phone Number}}.")), score=0.74, text="")
    mail = Hit(record=Record(id="c2", request="do you have an e-mail to contact customer service?",
                             intent="contact_customer_service", resolution=(
                                 "Certainly! Please send your inquiries to [Customer Service Email].")),
               score=0.69, text="")
    signup = Hit(record=Record(id="c3", request="problem signing up", intent="registration_problems",
                               resolution="Try again, or call {{Customer Support Phone Number}}."),
                 score=0.7, text="")
    assert missing_contact([free], {}, "what's your customer service phone number?") == "phone number"
    assert missing_contact([mail], {}, "Is there an email address for support?") == "e-mail address"
    assert missing_contact([signup], {}, "the sign up form won't accept my phone number") == ""
    # A record worded the customers' way names their own number too (a learned one, say).
    own = Hit(record=Record(id="c4", request="having trouble creating an account, the form wont accept "
                            "my phone number", intent="registration_problems",
                            resolution=signup.record.resolution), score=0.8, text="")
    assert missing_contact([own], {}, "the sign up form won't accept my phone number") == ""
    asked = "my phone number is 0123 4567, what is your support phone number?"
    assert missing_contact([free], {}, asked) == "phone number"
    assert missing_contact([mail], {}, "please change my email address on the account") == ""
    assert missing_contact([mail], {}, "what email do I write to? my email: s@ex.com") == "e-mail address"
    assert missing_contact([free], {"customer_support_phone_number": "+1 555 0100"}, "phone number?") == ""
    assert missing_contact([free], {}, "how do I reach you?") == ""  # not asked for by its name


COMPLAINT = _bitext(
    "I don't know how to make a complaint",
    "I'm sorry to hear that you're unsure of how to make a complaint. I'm here to help you with the "
    "process. Follow these steps to make a complaint:\n\n1. Gather all the necessary information "
    "related to your complaint.\n2. Explain your situation to our support team.")
DETAILS = _bitext(
    "I do not know how I can update my bloody personal details",
    "I understand that you might be feeling frustrated because you're unsure how to update your "
    "personal details. Rest assured, I'm here to help you. Kindly follow these guidelines to update "
    "your information:\n\n1. Start by logging into your account on our platform.")


def test_a_feeling_of_the_records_customer_is_not_told_to_one_who_never_said_it() -> None:
    """Real Bitext resolutions tell their customer how they felt ("I don't know how to make a
    complaint": "you're unsure"). A customer who only said what they want is not told so."""
    angry = compose(COMPLAINT, {}, ["I was on hold for 45 minutes. Unacceptable. I want to complain"])
    assert "unsure" not in angry  # upset, not unsure: a feeling of another kind is no licence
    assert angry.startswith("I'm here to help you with the process. Follow these steps to make a complaint:")
    assert "1. Gather all the necessary information" in angry
    married = compose(DETAILS, {}, ["I need to update my name, I got married"])
    assert "frustrated" not in married and married.startswith("Rest assured, I'm here to help you.")


def test_a_feeling_the_customer_named_may_be_said_back() -> None:
    assert compose(COMPLAINT, {}, ["i'm not sure how to make a complaint"]).startswith(
        "I'm sorry to hear that you're unsure of how to make a complaint.")
    assert compose(DETAILS, {}, ["so frustrating, I dont know where to change my details??"]).startswith(
        "I understand that you might be feeling frustrated")
    from assistant.compose import not_for_this_customer
    unhappy = "I'm sorry to hear that you're unhappy with your recent purchase and wish to cancel it."
    assert not_for_this_customer(unhappy, "Can I still cancel if it hasn't shipped yet? It's order 30917.")
    assert not not_for_this_customer(unhappy, "so disappointed with this kettle, cancel it")
    assert not_for_this_customer(unhappy, "I don't know how to cancel")  # a doubt, not an upset
    both = "I understand that you might be feeling frustrated because you're unsure how to update it."
    assert not_for_this_customer(both, "so frustrating!!") and not_for_this_customer(both, "not sure how")
    assert not not_for_this_customer(both, "so frustrating, I'm not sure how to do it")
    assert not not_for_this_customer(unhappy)  # without what the customer said, nothing to compare
    not_certain = "I understand that you are not certain about how to unsubscribe from our newsletter."
    assert not_for_this_customer(not_certain, "unsubscribe me from the mailing list")
    assert not not_for_this_customer(not_certain, "not sure how to unsubscribe from the mailing list")
    must_feel = "I understand the frustration you must feel when encountering an issue with online payment."
    assert not_for_this_customer(must_feel, "my card payment failed twice, what now")
    assert not not_for_this_customer(must_feel, "my card payment failed twice, so annoying")
    assert not not_for_this_customer("I understand that encountering an error with payments can be "
                                     "frustrating.", "my card payment failed")  # said of anyone
    # empathy that tells the customer nothing about themselves stays
    for kept in ("Don't worry, I'm here to help you.", "I understand your eagerness to know when it arrives.",
                 "I apologize for the inconvenience caused by the declined payment.",
                 "I understand your concern about getting a refund.", "If you are unsure, contact us.",
                 "Should you feel confused at any point, ask us."):
        assert not not_for_this_customer(kept, "my payment was declined"), kept


# Real Bitext rows (demo/bitext/records.csv), as the importer stores them: the country it knew is a
# {{Delivery Country}} placeholder; its adjective is not.
CANADA = Hit(record=Record(id="r-ca", request="do you ship to Canada?", resolution=(
    "Absolutely! We do offer shipping to {{Delivery Country}}. When placing your order, you can simply "
    "enter your Canadian address, and our system will calculate the shipping fees and provide you with "
    "estimated delivery dates. Please keep in mind that international orders may be subject to additional "
    "customs duties or taxes imposed by the Canadian authorities. These charges are beyond our control and "
    "are the responsibility of the recipient. You can track your parcel on our {{Website Name}}."),
    intent="delivery_options"), score=0.9, text="")


def test_a_country_the_history_never_named_for_this_customer_is_not_promised() -> None:
    text = compose(CANADA, {}, ["do u ship to norway?"])
    # neither the record's country (by name or adjective) nor a generic "your country" is promised,
    # nor does a bare "Absolutely!" answer yes
    assert "Canad" not in text and "country" not in text and "Absolutely" not in text, text
    assert "Norway" not in text, text
    # "These charges" pointed at the sentence that went, and went too
    assert text == "You can track your parcel on our website.", text


def test_the_same_country_named_by_this_customer_stays() -> None:
    text = compose(CANADA, {}, ["hi, do you deliver to canada??"])
    # the record's own sentence says yes; its bare "Absolutely!" goes as before any yes-or-no question
    assert text.startswith("We do offer shipping to Canada. When placing your order, you can "
                           "simply enter your Canadian address"), text


def test_a_city_the_importer_knew_comes_back_only_for_the_customer_who_names_it() -> None:
    valencia = Hit(record=Record(id="r-va", request="shippinh to Valencia", resolution=(
        "I understand that you would like to know the shipping options for delivering to {{Delivery City}}. "
        "We do offer shipping to {{Delivery City}}, and we have multiple delivery methods available. "
        "Enter your address at checkout to see them."), intent="delivery_options"), score=0.9, text="")
    assert (compose(valencia, {}, ["can you ship to Reykjavik"])
            == "Enter your address at checkout to see them.")
    assert "We do offer shipping to Valencia," in compose(valencia, {}, ["Do you deliver to Valencia?"])


# A real Bitext answer (check_refund_policy), and a customer who asks whether what they were told holds.
POLICY = Hit(record=Record(id="r-rp", request="I want to see your refund policy", resolution=(
    "Of course! Here are some situations in which you can request a refund:\n\n1. The product defects: If "
    "the product you received has defects, you can request a refund.\n\nFor more details, visit our "
    "website."), intent="check_refund_policy"), score=0.9, text="")


def test_a_yes_the_history_gave_another_question_does_not_answer_this_ones() -> None:
    claim = ("The lady at the helpdesk said I could return worn shoes within 60 days, "
             "is that really your policy?")
    text = compose(POLICY, {}, [claim])
    assert text.startswith("Here are some situations in which you can request a refund:"), text
    # after a clarifying question the last message is only "yes": the question is still the one asked
    assert compose(POLICY, {}, [claim, "yes"]).startswith("Here are some situations"), text
    # a request is no yes-or-no question: the answer keeps its opening
    assert compose(POLICY, {}, ["show me the refund policy please"]).startswith("Of course! Here are")
    # a yes that opens a sentence goes the same way (a real Bitext opening)
    sure = Hit(record=Record(id="r-pm", request="I want to see your payment methods", resolution=(
        "Sure, let me help you with that. To see our payment options, visit our website."),
        intent="check_payment_methods"), score=0.9, text="")
    both = Hit(record=Record(id="r-ca", request="can I open a business account", resolution=(
        "Yes, absolutely! Here's a step-by-step guide:\n\n1. Go to our website."), intent="create_account"),
               score=0.9, text="")
    assert compose(both, {}, ["Can I open an account for my small business?"]) == (
        "Here's a step-by-step guide:\n\n1. Go to our website.")
    klarna = "Your staff at the pop-up market told me I could pay with Klarna online. Is that true?"
    assert compose(sure, {}, [klarna]) == ("Let me help you with that. "
                                           "To see our payment options, visit our website.")
    for question in ("do u ship to norway", "Hi, do you accept American Express? My Visa is maxed out",
                     "Could you redirect it to my neighbour at 12 Elm Road instead?",
                     "are sale items refundable?"):
        assert asks_yes_or_no(question), question
    for request in ("please delete my account", "I want to cancel my order",
                    "What is the status of my refund?", "Hello, please update my order 88213",
                    "I was wondering if you could help"):
        assert not asks_yes_or_no(request), request


def test_a_phone_number_the_company_does_not_set_is_not_promised() -> None:
    """The real Bitext answer to "do you have a phone number to contact customer support?", for a
    customer who asked about a contact form: without [company] phone the number's line went, and so
    does the promise of it; a near record of the intent not written to give one answers instead."""
    phone = Hit(record=Record(id="r-ph", request="do you have a phone number to contact customer support?",
                              resolution=(
        "I can definitely provide you with a phone number to contact our customer support team. Please be "
        "aware that we may record our calls for training and quality assurance purposes. Here's the phone "
        "number:\n\n{{Customer Support Phone Number}}\n\nOur dedicated customer support agents are "
        "available during regular business hours to assist you."), intent="contact_customer_service"),
                score=0.62, text="")
    steps = Hit(record=Record(id="r-cs", request="how to contact customer support", resolution=(
        "To get in touch with our customer support team, please follow these steps:\n\n1. Visit our website."
        "\n2. Look for the \"Contact\" or \"Support\" section."), intent="contact_customer_service"),
                score=0.58, text="")
    said = ["Is there a contact form somewhere for support questions?"]
    assert "provide you with a phone number" not in compose(phone, {}, said)
    company = {"customer_support_phone_number": "0800 123"}
    assert "provide you with a phone number" in compose(phone, company, said)
    assert compose_best([phone, steps], {}, said).startswith("To get in touch with our customer support team")
    offer = "We can give you our support e-mail address."
    assert offers_unset_contact(offer, {"customer_support_email": 1})
    assert not offers_unset_contact(offer, {"customer_support_phone_number": 1})


# Real Bitext recover_password resolutions: one has the customer log in first (for one who knows the
# password), one starts at the login page's "Forgot Password".
LOGS_IN = found(
    "key", "I have to restore the access key of my account", "recover_password",
    ("I understand that you need to restore the access key for your account. Please follow these "
                "steps to proceed:\n\n1. Log in to your account on our platform.\n2. Navigate to the account "
                "settings or profile section.\n3. Look for the option to restore or reset your access key.\n"
                "4. Click on the provided link or button to initiate the restoration process.\n5. Follow the "
                "instructions carefully to complete the restoration of your access key."), 0.6)
FORGOT = found(
    "recovery", "password recovery", "recover_password",
    ("I understand that you're experiencing difficulties with your password and need assistance "
                "in recovering it. In order to reset your password, please follow these steps:\n\n1. Visit "
                "the login page of our {{Website Name}}.\n2. Look for the option that says 'Forgot Password' "
                "or similar.\n3. Click on that option to initiate the password recovery process.\n4. You "
                "will be prompted to enter your email address associated with your account.\n5. Follow the "
                "instructions sent to your email to reset your password."), 0.57)


def test_a_customer_who_cannot_log_in_is_not_told_to_log_in_first() -> None:
    from assistant.compose import logs_in_first

    assert logs_in_first(compose(LOGS_IN, {})) and not logs_in_first(compose(FORGOT, {}))
    locked = "Locked out of my account - tried every combination I use. How do I set a new one?"
    assert "Forgot Password" in compose_best([LOGS_IN, FORGOT], {}, [locked])
    for cannot in ("i forgot my password", "can't log in to my account", "my password doesn't work"):
        assert "Forgot Password" in compose_best([LOGS_IN, FORGOT], {}, [cannot]), cannot
    # a customer who can log in reads the nearest record; so does one who forgot something else
    for can in ("I want to change my access key", "I forgot to add an item, how do I reset my key"):
        assert compose_best([LOGS_IN, FORGOT], {}, [can]).startswith("I understand that you need to restore")
    # farther than NEAR: only at or above the floor, and only when every near one logs in first
    far = dataclasses.replace(FORGOT, score=0.45)
    assert "Forgot Password" in compose_best([LOGS_IN, far], {}, [locked], floor=0.45)
    assert "Forgot Password" not in compose_best([LOGS_IN, far], {}, [locked], floor=0.55)


def test_no_composed_bitext_answer_gives_another_customers_order_number_or_amount() -> None:
    """Every demo Bitext row as the importer stores it, composed for a customer who gave no details:
    no order number of the row's customer (the dataset's hash for one, or a number the answer names
    while its request gave another) and no amount "in this case" reach them."""
    import csv
    import re
    from pathlib import Path

    path = Path(__file__).parent.parent / "demo" / "bitext" / "records.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = [compose(_bitext(r["instruction"], r["response"], r["entity_type"], r["entity_value"]), {},
                     ["help me please"]) for r in rows]
    leaked = [t for t in texts if re.search(r"\d{6,}|\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z\d]{12,}\b"
                                            r"|in this case, [$€£]", t)]
    assert len(texts) > 4000 and leaked == []
