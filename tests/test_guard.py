"""The grounding guard around a model (assistant.guard), fed sentences a small model really wrote."""

from __future__ import annotations

from assistant.guard import GroundedBackend
from assistant.llm.base import ChatMessage, ChatRequest
from assistant.llm.fake import FakeLLM
from knowledge.records import Hit, Record

RESOLUTION = ("To close your account, log in and open the account settings. Select the option to "
              "close or delete your account and confirm. Contact {{Customer Support Phone Number}} "
              "if you need help.")
HIT = Hit(record=Record(id="r1", request="close my account", resolution=RESOLUTION, intent="delete_account"),
          score=0.9, text=RESOLUTION.replace("{{Customer Support Phone Number}}", "our support team"))
QUESTION = "I want to close my Freemium account, order 48213"


def request() -> ChatRequest:
    return ChatRequest(messages=(ChatMessage(role="system", content="rules"),
                                 ChatMessage(role="user", content=QUESTION)), references=(HIT,))


async def answer(deltas: list[str], company: dict[str, str] | None = None) -> tuple[list[str], FakeLLM]:
    model = FakeLLM(deltas)
    guard = GroundedBackend(model, company=company)
    return [d.text async for d in guard.stream(request())], model


async def test_supported_sentences_pass_and_an_invented_phone_number_is_dropped() -> None:
    out, _ = await answer(["To close your Freemium account, log in ", "and open the account settings. ",
                           "You can call us at 09 32 23 23 any time. ",
                           "Select the option to close your account and confirm."])
    text = "".join(out)
    assert "09 32 23 23" not in text
    assert text.startswith("To close your Freemium account, log in and open the account settings.")
    assert text.endswith("Select the option to close your account and confirm.")


async def test_each_sentence_goes_out_as_soon_as_it_is_complete() -> None:
    out, _ = await answer(["Log in and open ", "the account settings. Select the ", "option to close it."])
    assert out == ["Log in and open the account settings. ", "Select the option to close it."]


async def test_a_company_phone_number_may_be_said() -> None:
    out, _ = await answer(["Contact our support team at +1 555 0100 if you need help."],
                          company={"customer_support_phone_number": "+1 555 0100"})
    assert "+1 555 0100" in "".join(out)


async def test_a_sentence_cut_off_at_the_token_limit_is_not_sent() -> None:
    out, _ = await answer(["Log in and open the account settings. ", "Select the option to close"])
    assert "".join(out) == "Log in and open the account settings. "


async def test_a_loop_stops_the_model() -> None:
    looping = ["Log in and open the account settings. "] * 50
    out, model = await answer(looping)
    assert "".join(out) == "Log in and open the account settings. "
    assert model.yielded < 50 and model.closed_early == 1


async def test_code_and_sign_off_placeholders_are_dropped() -> None:
    out, _ = await answer(["Log in and open the account settings.\n", "<?php close_account($id); ?>\n",
                           "Best regards,\n", "[Your Name]"])
    assert "".join(out) == "Log in and open the account settings.\n"


async def test_when_nothing_is_supported_the_best_record_is_the_answer() -> None:
    out, _ = await answer(["Visit www.facebook.com/subscribe to close it. ", "It takes 14 days."])
    text = "".join(out)
    assert text.startswith("To close your account, log in and open the account settings.")
    # the composed record, without its sentence that sends the customer to a phone number nobody set
    assert "phone" not in text and "facebook" not in text


async def test_the_record_read_when_nothing_is_supported_is_chosen_as_the_extractive_backend_does() -> None:
    """When the nearest records only ask for an order number, a farther one of the intent that says what
    to do answers only if it reaches the answering bar (`floor`, dialogue.min_score)."""
    asks = ("I completely understand your curiosity about the delivery period of your package. To assist "
            "you, could you please provide me with the order number of your package? This will allow me "
            "to access the specific details.")
    shows = ("Finding information about the estimated delivery time is essential, and I'm here to guide you. "
             "To access it, please follow these steps:\n\n1. Log in to your account on our website.\n"
             "2. Open the order details.\n3. Look for the estimated delivery time, stated there.")
    found = tuple(Hit(record=Record(id=f"d{n}", request="how long does delivery take", resolution=text,
                                    intent="delivery_period"), score=score, text=text)
                  for n, (text, score) in enumerate(((asks, 0.8), (shows, 0.6))))
    asked = ChatRequest(messages=(ChatMessage(role="user", content="how long does delivery take?"),),
                        references=found)
    for floor, opening in ((0.55, "Finding information"), (0.65, "I completely understand")):
        guard = GroundedBackend(FakeLLM(["Call 0800 123 456 today."]), floor=floor)
        assert "".join([d.text async for d in guard.stream(asked)]).startswith(opening)


async def test_a_sentence_announcing_steps_goes_out_only_with_a_step() -> None:
    out, _ = await answer(["To close your account, follow these steps:\n",
                           "1. Log in and open the account settings.\n"])
    assert out == ["To close your account, follow these steps:\n1. Log in and open the account settings.\n"]
    out, _ = await answer(["Log in and open the account settings. ", "To close it, follow these steps:\n",
                           "1. Call 09 32 23 23."])
    assert "".join(out) == "Log in and open the account settings. "  # nothing left dangling on ':'


async def test_courtesy_alone_is_followed_by_the_best_record() -> None:
    out, _ = await answer(["I'm glad you reached out about this. ",
                           "Your invoice was paid by PayPal on 3 May."])
    text = "".join(out)
    assert text.startswith("I'm glad you reached out about this. To close your account, log in")
    assert "PayPal" not in text


async def test_placeholders_a_tuned_model_writes_are_filled_for_this_customer() -> None:
    # A model tuned on the history writes its placeholders as stored: the customer reads their
    # own order number (from their message), a company value, or generic words; never the braces.
    out, _ = await answer(["To close the account tied to order {{Order Number}}, log in and open the ",
                           "account settings. Contact {{Customer Support Phone Number}} if you need help."],
                          company={"customer_support_phone_number": "+1 555 0100"})
    text = "".join(out)
    assert "{{" not in text
    assert "order 48213, log in and open the account settings." in text
    assert "Contact +1 555 0100 if you need help." in text


async def test_a_dropped_step_leaves_no_gap_in_the_numbering() -> None:
    out, _ = await answer(["To close your account:\n", "1. Log in and open the account settings.\n",
                           "2. Call us at 09 32 23 23.\n", "3. Select the option to close your account.\n"])
    text = "".join(out)
    assert "09 32 23 23" not in text
    assert "1. Log in and open the account settings.\n2. Select the option to close your account." in text
