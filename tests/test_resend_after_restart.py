"""A question stored just before the server died, closed as `interrupted` by the recovery sweep,
is answered when the widget resends it (same client_msg_id) through /ws/chat, the real
dialogue and store. Before, the socket took it for a duplicate and nothing happened."""

from __future__ import annotations

from typing import Any

from test_fuzz_frames import client  # noqa: F401 - the fixture: real dialogue, real store

from assistant.events import ErrorEvent, UserMessage


def test_a_resend_of_an_interrupted_question_is_answered(client: Any) -> None:  # noqa: F811
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello"})
        cid = ws.receive_json()["conversation_id"]
        store = client.app.state.service.store
        portal = client.portal  # the app's event loop, where the store lives

        async def left_by_a_dead_worker() -> None:
            await store.append(UserMessage(conversation_id=cid, message_id="u1", client_msg_id="m-1",
                                           text="I want a refund for my order"))
            await store.append(ErrorEvent(conversation_id=cid, code="interrupted", message_id="u1",
                                          message="We restarted before answering this message."))
        portal.call(left_by_a_dead_worker)
        ws.send_json({"type": "message", "text": "I want a refund for my order", "client_msg_id": "m-1"})
        seen = [ws.receive_json()]
        while seen[-1]["type"] != "answer" and seen[-1].get("code") in (None, "interrupted"):
            seen.append(ws.receive_json())
        assert seen[-1]["type"] == "answer", seen
        ws.send_json({"type": "message", "text": "I want a refund for my order", "client_msg_id": "m-1"})
        ws.send_json({"type": "ping", "nonce": "p"})
        after = ws.receive_json()
        assert after["type"] == "pong", after  # answered once: a second resend is a duplicate again
    assert sum(isinstance(e, UserMessage) for e in portal.call(store.events, cid)) == 1
