// Unit tests of the widget's pure pieces: run with `node --test tests/js/`.
import assert from "node:assert/strict";
import test from "node:test";

import { backoffDelay, ConversationLog, describeState, newClientMsgId, Session } from "../../channels/static/widget/core.js";

test("backoff grows exponentially, is capped, and jitters within [ceiling/2, ceiling]", () => {
  const low = (n) => backoffDelay(n, { base: 500, max: 30000, random: () => 0 });
  const high = (n) => backoffDelay(n, { base: 500, max: 30000, random: () => 1 });
  assert.deepEqual([0, 1, 2, 3].map(high), [500, 1000, 2000, 4000]);
  assert.deepEqual([0, 1, 2, 3].map(low), [250, 500, 1000, 2000]);
  assert.equal(high(20), 30000);
  assert.equal(low(20), 15000);
});

test("client message ids are unique", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newClientMsgId()));
  assert.equal(ids.size, 1000);
});

const turn = [
  { type: "message", seq: 1, message_id: "u1", text: "where is my order?", client_msg_id: "c1" },
  { type: "answer_started", seq: 2, message_id: "a1" },
  { type: "delta", seq: 3, message_id: "a1", text: "It is " },
  { type: "delta", seq: 4, message_id: "a1", text: "on its way." },
  { type: "answer", seq: 5, message_id: "a1", text: "It is on its way.", sources: [{ id: "r1", score: 0.8 }] },
];

test("a replay after a reconnect shows nothing twice", () => {
  const log = new ConversationLog();
  turn.slice(0, 3).forEach((f) => log.apply(f));
  // The server replays everything after the last seq we had, and some of it twice.
  turn.slice(1).forEach((f) => log.apply(f));
  assert.equal(log.ofKind("user").length, 1);
  assert.equal(log.ofKind("bot").length, 1);
  assert.equal(log.ofKind("bot")[0].text, "It is on its way.");
  assert.equal(log.lastSeq, 5);
});

test("the final answer repairs deltas lost in a network cut", () => {
  const log = new ConversationLog();
  [turn[0], turn[1], turn[2], turn[4]].forEach((f) => log.apply(f));
  const answer = log.ofKind("bot")[0];
  assert.equal(answer.text, "It is on its way.");
  assert.equal(answer.streaming, false);
  assert.equal(answer.sources[0].id, "r1");
  assert.equal(log.apply({ type: "delta", message_id: "a1", text: " late" }), null);
  assert.equal(answer.text, "It is on its way.");
});

test("a pending message becomes the server's message, not a second one", () => {
  const log = new ConversationLog();
  const pending = log.addPending({ type: "message", text: "where is my order?", client_msg_id: "c1" });
  assert.equal(pending.pending, true);
  log.apply(turn[0]);
  assert.equal(log.ofKind("user").length, 1);
  assert.equal(pending.id, "u1");
  assert.equal(pending.pending, false);
});

test("transcripts, status and agent messages fold into the log", () => {
  const log = new ConversationLog();
  log.apply({ type: "message", seq: 1, message_id: "u1", text: "", attachments: ["up1"] });
  log.apply({ type: "transcript", seq: 2, message_id: "u1", text: "cancel my order" });
  log.apply({ type: "status", seq: 3, state: "human", agent: "Alice", reason: "customer_request" });
  log.apply({ type: "agent_message", seq: 4, message_id: "g1", text: "Hello", agent: "Alice" });
  assert.equal(log.ofKind("user")[0].transcript, "cancel my order");
  assert.equal(log.state, "human");
  assert.equal(log.ofKind("system")[0].text, "Alice has joined the conversation");
  assert.equal(log.ofKind("agent")[0].agent, "Alice");
  assert.equal(describeState("waiting_human"), "Waiting for a person to join");
});

class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
}

test("the session survives a reload and keeps unacknowledged messages", () => {
  const storage = new MemoryStorage();
  const s1 = new Session(storage, "http://shop.test");
  s1.remember({ conversation_id: "conv1", resume_token: "tok" });
  s1.queue({ type: "message", text: "a", client_msg_id: "c1" });
  s1.queue({ type: "message", text: "b", client_msg_id: "c2" });
  s1.acknowledge("c1");
  const s2 = new Session(storage, "http://shop.test");
  assert.equal(s2.conversationId, "conv1");
  assert.equal(s2.resumeToken, "tok");
  assert.deepEqual(s2.pending.map((p) => p.client_msg_id), ["c2"]);
  assert.equal(new Session(storage, "http://other.test").conversationId, "");
});

test("a corrupt stored session starts a new conversation instead of failing", () => {
  const storage = new MemoryStorage();
  storage.setItem("support-widget:http://shop.test", "{not json");
  assert.equal(new Session(storage, "http://shop.test").conversationId, "");
});

test("an interrupted answer offers its question again until the talk moves on", () => {
  const log = new ConversationLog();
  const cut = [
    { type: "message", seq: 1, message_id: "u1", text: "where is my order?", client_msg_id: "c1" },
    { type: "answer_started", seq: 2, message_id: "a1" },
    { type: "delta", seq: 3, message_id: "a1", text: "It is " },
    { type: "answer", seq: 4, message_id: "a1", text: "It is ", interrupted: true },
  ];
  cut.forEach((f) => log.apply(f));
  const answer = log.byId.get("a1");
  assert.equal(log.questionOf(answer).text, "where is my order?");
  // a complete answer has nothing to ask again
  log.apply({ type: "message", seq: 5, message_id: "u2", text: "thanks", client_msg_id: "c2" });
  assert.equal(log.questionOf(answer), null); // something was said after it
  log.apply({ type: "answer_started", seq: 6, message_id: "a2" });
  log.apply({ type: "answer", seq: 7, message_id: "a2", text: "You're welcome." });
  assert.equal(log.questionOf(log.byId.get("a2")), null);
  // with a person in charge the bot's cut answer is not asked again
  const waiting = new ConversationLog();
  [...cut, { type: "status", seq: 5, state: "waiting_human", reason: "customer_request" }]
    .forEach((f) => waiting.apply(f));
  assert.equal(waiting.questionOf(waiting.byId.get("a1")), null);
});

test("an unsure answer and a suggestion drawn on internal records are marked as such", () => {
  const log = new ConversationLog();
  for (const f of [
    { type: "message", seq: 1, message_id: "u1", text: "do you sell gift cards?" },
    { type: "answer_started", seq: 2, message_id: "a1" },
    { type: "answer", seq: 3, message_id: "a1", text: "I don't have information on that.", sources: [],
      grounded: false },
    { type: "answer_started", seq: 4, message_id: "a2" },
    { type: "answer", seq: 5, message_id: "a2", text: "It is on its way.", sources: [] },
    { type: "suggestion", seq: 6, message_id: "s1", text: "Offer a refund.", internal: true },
  ]) log.apply(f);
  const [unsure, sure] = log.ofKind("bot");
  assert.equal(unsure.grounded, false);
  assert.equal(sure.grounded, true);
  assert.equal(log.ofKind("suggestion")[0].internal, true);
});

test("a clarifying question keeps its options; other answers have none", () => {
  const log = new ConversationLog();
  const options = [{ intent: "track_order", label: "where your order is" },
                   { intent: "delivery_period", label: "how long delivery takes" }];
  for (const f of [
    { type: "answer_started", seq: 1, message_id: "a1" },
    { type: "answer", seq: 2, message_id: "a1", text: "Just to be sure: is your question about where your order is, or how long delivery takes?",
      sources: [], grounded: false, options },
    { type: "answer_started", seq: 3, message_id: "a2" },
    { type: "answer", seq: 4, message_id: "a2", text: "It is on its way.", sources: [] },
  ]) log.apply(f);
  const [asked, answered] = log.ofKind("bot");
  assert.deepEqual(asked.options, options);
  assert.deepEqual(answered.options, []);
});
