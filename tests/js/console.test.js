// The console's pure pieces: grouping of the inbox, unread counts, the record draft.
import assert from "node:assert/strict";
import test from "node:test";

import { countUnread, groupConversations, reasonText } from "../../channels/static/console/inbox.js";
import { draftRecord } from "../../channels/static/console/save.js";

test("waiting conversations come first, longest wait on top", () => {
  const groups = groupConversations([
    { conversation_id: "a", state: "bot", updated_at: 5 },
    { conversation_id: "b", state: "waiting_human", waiting_since: 200 },
    { conversation_id: "c", state: "waiting_human", waiting_since: 100 },
    { conversation_id: "d", state: "human", updated_at: 1 },
  ]);
  assert.deepEqual(groups.map(([state]) => state), ["waiting_human", "human", "bot"]);
  assert.deepEqual(groups[0][2].map((s) => s.conversation_id), ["c", "b"]);
});

test("unread counts customer messages, not streamed deltas", () => {
  const frames = [
    { type: "message" }, { type: "answer_started" }, { type: "delta" }, { type: "delta" }, { type: "answer" },
    { type: "status" }, { type: "message" },
  ];
  assert.equal(countUnread(frames), 2);
});

test("handoff reasons read as sentences", () => {
  assert.equal(reasonText("customer_request"), "Customer asked for a person");
  assert.equal(reasonText("trigger:refund"), "Matched the trigger “refund”");
  assert.equal(reasonText("agent"), "");
});

test("the record draft takes what the customer said and what the agent answered", () => {
  const draft = draftRecord([
    { kind: "user", text: "my parcel is lost" },
    { kind: "bot", text: "Sorry to hear that." },
    { kind: "user", text: "", transcript: "it says delivered" },
    { kind: "agent", text: "I opened a claim with the carrier." },
  ]);
  assert.equal(draft.request, "my parcel is lost\nit says delivered");
  assert.equal(draft.resolution, "I opened a claim with the carrier.");
  assert.equal(draftRecord([{ kind: "user", text: "q" }, { kind: "bot", text: "bot answer" }]).resolution, "bot answer");
});
