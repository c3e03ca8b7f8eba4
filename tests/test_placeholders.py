"""{{Placeholders}}: filled from [company], else a generic phrase that reads well."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from knowledge.placeholders import (
    NO_GENERIC,
    fill,
    key,
    placeholders,
    resolution_for,
    unpersonalise,
    unset_contacts,
)

BITEXT = Path(__file__).parent.parent / "demo" / "bitext" / "records.csv"


def test_key_is_lowercase_with_underscores() -> None:
    assert key("Website Name") == "website_name"
    assert key("Website/App Name") == "website_app_name"
    assert key(" Customer Support Phone Number ") == "customer_support_phone_number"


def test_company_values_fill_their_placeholders() -> None:
    company = {"website_name": "acme.example", "customer_support_phone_number": "+1 555 0100"}
    text = "Log into our {{Website Name}} or call {{Customer Support Phone Number}}."
    assert fill(text, company) == "Log into our acme.example or call +1 555 0100."


def test_anonymized_suffix_and_company_name_alias() -> None:
    company = {"website_name": "acme.example", "name": "Acme Outfitters"}
    filled = fill("{{Website Name Anonymized}} by {{Company Name}}", company)
    assert filled == "acme.example by Acme Outfitters"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("log into our {{Website Name}}", "log into our website"),
        ("visit {{Website Name}} today", "visit our website today"),
        ("call us at {{Customer Support Phone Number}}", "call us at our customer support phone number"),
        # without the number, "the order <number>" reads "your order" (not "the order your order number")
        ("the order {{Purchase ID Anonymized}}", "your order"),
        ("locate the specific order numbered {{Order Number}}.", "locate the specific order."),
        ("reach us via {{Live Chat}}", "reach us via live chat"),
        ("available {{Customer Support Availability}}", "available during our business hours"),
        ("We are open {{Working Hours}}", "We are open during our business hours"),
        ("check the {{Order History}} section", "check the order history section"),
        ("press a {{Cancel Order}} button", "press a cancel order button"),
        ("open {{Account Settings}}", "open the account settings"),
        ("see the {{ETA}}", "see the ETA"),
        ("{{Live Chat}} is open. {{Website Name}} too", "Live chat is open. Our website too"),
        ("steps:\n1. {{Order Details}}", "steps:\n1. The order details"),
        ("number {{113542617735902}}", "number 113542617735902"),
    ],
)
def test_missing_values_get_generic_phrases(text: str, expected: str) -> None:
    assert fill(text, {}) == expected


def test_a_quoted_number_to_type_with_no_value_is_left_out() -> None:
    """Bitext's check_invoice answers quote their customer's number for the next one to type: 'Enter
    the invoice number "#00108" in the search field' must not read 'Enter the invoice number "#your order
    number"' (nor the other customer's number); this customer's own number is typed when they gave it."""
    cases = [('4. Enter the invoice number "#00108" in the search field.', "I want to see the invoice #00108",
              "4. Enter the invoice number in the search field."),
             ('4. Enter the invoice number, "#00108," in the search bar.', "find invoice #00108",
              "4. Enter the invoice number in the search bar."),
             ("4. Enter the invoice number '12588' in the search or filter field.",
              "where could I see the invoice #12588?",
              "4. Enter the invoice number in the search or filter field.")]
    for resolution, request, expected in cases:
        assert resolution_for(resolution, request, {}) == expected
    assert resolution_for(cases[0][0], cases[0][1], {"order_number": "4410"}) == (
        '4. Enter the invoice number "#4410" in the search field.')


@pytest.mark.parametrize(("text", "expected"), [
    # the other customer's number, with the words that introduced it, goes; the step still reads
    ("3. Locate the order labeled {{Order Number}}.", "3. Locate the order."),
    ('3. Locate the order labeled "{{Order Number}}".', "3. Locate the order."),
    ("3. Look for the invoice labeled with the number {{Invoice Number}}.", "3. Look for the invoice."),
    ("3. Search for the order labeled with the ID {{Purchase ID Anonymized}}.", "3. Search for the order."),
    ("3. Search for the purchase with the reference number {{Order Number}}.", "3. Search for the purchase."),
    ("4. Enter the bill number, which is {{Invoice Number}}, into the search field.",
     "4. Enter the bill number into the search field."),
    # what is to be typed stays a number: "Enter your order number", not "Enter your order"
    ("4. Enter the order number {{Order Number}} in the designated field.",
     "4. Enter your order number in the designated field."),
    ("4. Enter the invoice {{Invoice Number}} in the search bar.",
     "4. Enter your invoice number in the search bar."),
    ("3. Search for the specific invoice using the number {{Invoice Number}}.",
     "3. Search for the specific invoice using its number."),
    ("2. Refunds requested after the {{number of days}}-day window may be reviewed.",
     "2. Refunds requested after the window stated in our policy may be reviewed."),
    ("We offer a {{number of days}}-day money back guarantee on most items.",
     "We offer a money back guarantee on most items."),
    # "the customer support phone number" is no way to reach us until [company] sets one
    ("You may contact them through the customer support phone number or via live chat on our website.",
     "You may contact them via live chat on our website."),
])
def test_a_number_with_no_value_leaves_a_step_that_reads(text: str, expected: str) -> None:
    assert fill(text, {}, generic_contacts=False) == expected


def test_a_share_of_a_refund_has_no_generic_words() -> None:
    """Real Bitext policy: "{{Percentage}} refund will be issued ..." read "The percentage refund will be
    issued": with no share set the sentence is left out, like an amount."""
    assert fill("{{Percentage}} refund will be issued.", {}) == "{{Percentage}} refund will be issued."
    assert fill("{{Percentage}} refund will be issued.", {"percentage": "50%"}) == (
        "50% refund will be issued.")


def test_a_number_the_customer_gave_is_put_where_the_record_had_its_own() -> None:
    assert fill("4. Enter the order number {{Order Number}} in the designated field.",
                {"order_number": "4410"}) == "4. Enter the order number 4410 in the designated field."
    assert fill("3. Search for the purchase with the reference number {{Order Number}}.",
                {"order_number": "4410"}) == "3. Search for the purchase with the reference number 4410."


def test_empty_company_value_counts_as_missing() -> None:
    assert fill("via {{Live Chat}}", {"live_chat": "  "}) == "via live chat"


def test_placeholders_lists_distinct_names_in_order() -> None:
    text = "a {{Website Name}} b {{Live Chat}} {{Website Name}}"
    assert placeholders(text) == ["Website Name", "Live Chat"]
    assert placeholders("no slots here") == []


def test_bitext_answers_are_left_without_braces() -> None:
    with open(BITEXT, newline="", encoding="utf-8") as f:
        responses = [row["response"] for row in csv.DictReader(f)]
    filled = [fill(r, {}) for r in responses]
    # only what no generic words keep true stays, for the composer to leave its sentence out: a share
    # of a refund, in 2 of the policy answers
    left = [p for t in filled for p in placeholders(t)]
    assert left and {key(p) for p in left} <= NO_GENERIC
    assert not any(("{{" in t or "}}" in t) and not placeholders(t) for t in filled)
    # The determiner is not doubled for the most frequent placeholder ("our {{Website Name}}").
    assert not any(re.search(r"\bour our\b|\bthe the\b|\ba the\b", t) for t in filled)
    # Nor is the website named twice ("Go to our website at our website.")
    assert not [t for t in filled if re.search(r"\b(?:website|site|homepage|store) at our website\b", t)]


def test_a_website_with_no_address_is_not_named_twice() -> None:
    assert fill("Visit our website at {{Website URL}}.", {}) == "Visit our website."
    assert fill("Visit our website at {{Website URL}}.", {"website_url": "acme.example"}) == \
        "Visit our website at acme.example."
    # the history's other names for it, and other ways to say "our website"
    assert fill("1. Visit our official website at {{Company Website}}.", {}) == \
        "1. Visit our official website."
    assert fill("Visit our online store at {{Website URL}} and sign in", {}) == \
        "Visit our online store and sign in"
    assert fill("Head to our website at {{Service Website}}.", {"website_name": "acme.example"}) == \
        "Head to our website at acme.example."


def test_an_invoice_with_no_number_reads_your_invoice() -> None:
    assert fill("I'm here to help you retrieve invoice {{Invoice Number}}.", {}) == \
        "I'm here to help you retrieve your invoice."
    assert fill("Find invoice {{Invoice Number}}.", {"invoice_number": "INV-7"}) == "Find invoice INV-7."


def test_a_reference_text_leaves_out_a_kind_of_account_nobody_named() -> None:
    from knowledge.placeholders import without_account_kind

    text = "Switch to the {{Account Type}} account. Opening a {{Account Type}} account is easy."
    assert without_account_kind(text) == "Switch to the account. Opening an account is easy."


def test_what_an_option_does_reads_as_a_verb() -> None:
    """Real Bitext steps ("Look for the option to {{Modify Order}}", 5 of them; 10 say {{Edit Order}})."""
    assert fill("4. Look for the option to {{Modify Order}}.", {}) == (
        "4. Look for the option to modify order.")
    assert fill("Look for an option to {{Request Item Swap}} or {{Exchange Item}}.", {}) == (
        "Look for an option to request item swap or exchange item.")
    assert fill("Use the link to {{Edit Order}}.", {"edit_order": "Change it"}) == (
        "Use the link to Change it.")
    assert fill("Details related to {{Termination Fee}}.", {}) == "Details related to the termination fee."


def test_the_customers_name_is_not_said_as_your_name() -> None:
    """Real Bitext openings: "No worries, {{Name Field Anonymized}}, I'm here to help you"."""
    assert fill("No worries, {{Name Field Anonymized}}, I'm here to help you.", {}) == (
        "No worries, I'm here to help you.")
    assert fill("Please follow these steps, {{Name Field Anonymized}}, and I will guide you.", {}) == (
        "Please follow these steps, and I will guide you.")
    assert fill("No worries, {{Name Field}}, I'm here.", {"name_field": "Sam"}) == (
        "No worries, Sam, I'm here.")


def test_a_numbered_thing_at_a_sentence_start_keeps_its_capital() -> None:
    assert fill("6. The invoice with the number {{Invoice Number}} should now be visible.", {}) == (
        "6. Your invoice should now be visible.")


def test_a_button_the_record_names_reads_as_its_label() -> None:
    """Real Bitext steps: 'allows you to "{{Edit}}" or "{{Change}}" the address' (48 composed answers
    read '"the edit" or "the change"'), "a button labeled {{Cancel Order}}"."""
    assert fill('Look for a button that allows you to "{{Edit}}" or "{{Change}}" the address.', {}) == (
        'Look for a button that allows you to "Edit" or "Change" the address.')
    assert fill("Look for a button labeled {{Cancel Order}} next to it.", {}) == (
        'Look for a button labeled "Cancel Order" next to it.')
    assert fill("Go to the section labeled {{Account Information}} or {{Billing Details}}.", {}) == (
        'Go to the section labeled "Account Information" or "Billing Details".')
    # a value of the customer's or the company's keeps its own words
    assert fill("Open the tab labeled {{Order Number Anonymized}}.", {}) == (
        "Open the tab labeled your order number.")
    assert fill('Click "{{Edit}}".', {"edit": "Modify"}) == 'Click "Modify".'


def test_the_one_contact_key_fills_every_name_the_history_gives_it() -> None:
    """Bitext writes the support phone number under seven names ({{Customer Support Phone Number}}
    2,484 times, {{Support Phone Number}} 13, {{Customer Service Phone Number}} 10, {{Phone Number}},
    {{Phone}}, ...) and the e-mail address under ten: a support lead sets one key for each."""
    company = {"customer_support_phone_number": "+1 555 0100", "customer_support_email": "help@acme.example"}
    for name in ("Customer Service Phone Number", "Support Phone Number", "Phone Number", "Phone",
                 "Customer Support Phone Number Anonymized"):
        assert fill(f"Call {{{{{name}}}}} now.", company) == "Call +1 555 0100 now."
    for name in ("Customer Support Email Address", "Customer Service Email", "Support Email", "Email"):
        assert fill(f"Write to {{{{{name}}}}}.", company) == "Write to help@acme.example."
    # a key of its own still wins
    assert fill("Call {{Complaint Phone Number}}.", {**company, "complaint_phone_number": "+1 555 0199"}) == (
        "Call +1 555 0199.")
    assert fill("Open {{Website URL}}.", {"website_name": "acme.example"}) == "Open acme.example."


def test_a_contact_under_a_name_of_its_own_is_left_out_like_the_others_when_unset() -> None:
    """Real Bitext complaint record: "{{Complaint Email Address}}" read to a customer as "via email at
    the complaint email address" told them nothing; another history names "{{Billing Phone}}"."""
    step = ("3. Contact our customer support team through our dedicated complaint line via email at "
            "{{Complaint Email Address}}.")
    assert fill(step, {}, generic_contacts=False) == step  # stays a placeholder: the composer drops it
    assert fill(step, {}).endswith("via email at the complaint email address.")  # what an agent reads
    assert fill(step, {"complaint_email_address": "complaints@acme.example"},
                generic_contacts=False).endswith("via email at complaints@acme.example.")
    assert unset_contacts([step, "Call {{Billing Phone}}."], {}) == {
        "complaint_email_address": 1, "billing_phone": 1}
    assert fill("Go to {{Account Settings}}.", {}, generic_contacts=False) == "Go to the account settings."


def test_an_order_named_by_an_invoice_number_reads_your_order() -> None:
    """Real Bitext get_invoice answer: read "obtaining the invoice for order your invoice number"."""
    assert fill("I can assist you with obtaining the invoice for order {{Invoice Number}}.", {},
                generic_contacts=False) == "I can assist you with obtaining the invoice for your order."
    assert fill("Find the invoice for order {{Invoice Number}}.", {"invoice_number": "INV-7"}) == (
        "Find the invoice for order INV-7.")


def test_unset_hours_and_days_are_not_said_twice() -> None:
    """Real Bitext wording: the generic phrase for hours or days already says what the words around
    the placeholder said ("available from during our business hours", "within the number of days
    stated in our policy business days")."""
    assert fill("Our support team is available from {{Customer Support Hours}} during weekdays.", {}) == (
        "Our support team is available during our business hours during weekdays.")
    assert fill("They are available during our business hours, which are {{Customer Support Hours}}.",
                {}) == "They are available during our business hours."
    assert fill("We aim to process refunds within {{Number of Days}} business days once approved.", {}) == (
        "We aim to process refunds within the number of business days stated in our policy once approved.")
    # "... within the number of days stated in our policy of your purchase date" reads as a period
    assert fill("You can request a refund within {{number of days}} days of your purchase date.", {}) == (
        "You can request a refund within the period our policy allows from your purchase date.")
    assert fill("within {{Number of Days}} days of purchase", {"number_of_days": "30"}) == \
        "within 30 days of purchase"
    # Set, the history's words stay around the value.
    assert fill("Our team is available from {{Customer Support Hours}}.",
                {"customer_support_hours": "9am to 5pm"}) == "Our team is available from 9am to 5pm."
    assert fill("within {{Number of Days}} days", {"number_of_days": "14"}) == "within 14 days"


def test_a_country_the_record_s_customer_named_by_its_name_is_theirs_too() -> None:
    """A history from any importer: the country is found by its name and its adjective."""
    resolution = ("We accept orders from the USA and ship them with a tracking number. American Express "
                  "and Visa are accepted. Orders to the United States may take a week.")
    text = unpersonalise(resolution, "can I order from the USA", "can i order from brazil")
    assert text == ("We accept orders from the {{Delivery Country}} and ship them with a tracking number. "
                    "American Express and Visa are accepted. "
                    "Orders to the {{Delivery Country}} may take a week.")
    # named by this customer too (another of its names): the sentences are theirs as well
    same = unpersonalise(resolution, "can I order from the USA", "shipping to the United States?")
    assert same == resolution
    # South America is not the United States; "polish" is not Poland's
    assert unpersonalise("We ship across South America.", "do you ship to America", "") == \
        "We ship across South America."
    assert unpersonalise("Please polish the lens.", "I am in Poland", "") == "Please polish the lens."


# Real Bitext answers (get_invoice): the importer stored the person the record's customer named as
# {{Person Name}}; the answer to "5 purchases ago" says "five transactions ago".
INVOICE_FROM = ("I understand your request to obtain an invoice from {{Person Name}}. To assist you with "
                "this, please follow the steps provided:\n\n1. Log in to your account on our platform.\n"
                "2. Find the specific invoice you are looking for involving {{Person Name}}.")


def test_the_person_you_mentioned_is_said_only_to_a_customer_who_mentioned_someone() -> None:
    said = "the delivery man didnt leave any paper invoice in the box, can i get one by email?"
    text = resolution_for(INVOICE_FROM, "can I get my invoice from Mr. Smith?", {}, said)
    assert "the person you mentioned" not in text and "{{Someone}}" in text, text
    for said in ("i need the invoice from Mrs. Jones", "my colleague needs the invoice",
                 "invoice for my wife"):
        text = resolution_for(INVOICE_FROM, "can I get my invoice from Mr. Smith?", {}, said)
        assert "an invoice from the person you mentioned." in text, (said, text)
    # the record's text for no customer in particular (what a model reads, what answers are checked
    # against) keeps it: an answer to a customer who named someone is supported by it
    assert "an invoice from the person you mentioned." in resolution_for(INVOICE_FROM, "from Mr. Smith?", {})


def test_how_long_ago_the_records_customer_bought_is_not_anothers() -> None:
    resolution = ("I understand that you require assistance in downloading an invoice from a purchase made "
                  "five transactions ago. Allow me to guide you:\n\n1. Locate the purchase made five "
                  "transactions ago.")
    request = "need assistance to download my invoice from 5 purchases ago"
    text = resolution_for(resolution, request, {}, "how do i download the invoice for my purchase")
    # "a purchase made {{Period}}" reads "a purchase"
    assert text == ("I understand that you require assistance in downloading an invoice from a purchase. "
                    "Allow me to guide you:\n\n1. Locate the purchase."), text
    # the same count however written is theirs too
    assert resolution_for(resolution, request, {}, "invoice from five orders ago pls") == resolution
    assert "five" not in resolution_for(resolution, request, {}, "my invoice from 3 purchases ago")
    assert resolution_for(resolution, request, {}) == resolution  # for no customer in particular
    # "from {{Period}}" reads as nothing
    assert (resolution_for("To obtain an invoice from 8 months ago, please follow these steps:",
                           "getting invoice from 8 months ago", {}, "how do I get an invoice")
            == "To obtain an invoice, please follow these steps:")
