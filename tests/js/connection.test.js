// The reconnecting socket, with a fake WebSocket and fake timers. `node --test tests/js/`.
import assert from "node:assert/strict";
import test from "node:test";

import { Connection } from "../../channels/static/widget/connection.js";

class FakeSocket {
  constructor(url) { this.url = url; this.sent = []; this.closed = false; }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.closed = true; }
  // what the server does:
  open() { this.onopen?.(); }
  receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  drop() { this.onclose?.(); }
}

class FakeTimers {
  constructor() { this.now = 0; this.jobs = []; this.next = 1; }
  setTimeout(fn, ms) { const id = this.next++; this.jobs.push({ id, at: this.now + ms, fn }); return id; }
  clearTimeout(id) { this.jobs = this.jobs.filter((j) => j.id !== id); }
  setInterval(fn, ms) { const id = this.next++; this.jobs.push({ id, at: this.now + ms, fn, every: ms }); return id; }
  clearInterval(id) { this.clearTimeout(id); }
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      this.jobs.sort((a, b) => a.at - b.at);
      const job = this.jobs[0];
      if (!job || job.at > end) break;
      this.jobs.shift();
      this.now = job.at;
      if (job.every) this.jobs.push({ ...job, at: job.at + job.every });
      job.fn();
    }
    this.now = end;
  }
}

function setup(extra = {}) {
  const sockets = [];
  const frames = [];
  const statuses = [];
  const timers = new FakeTimers();
  let lastSeq = 0;
  const conn = new Connection({
    url: "ws://test/ws/chat",
    hello: () => ({ type: "hello", last_seq: lastSeq }),
    onFrame: (f) => { frames.push(f); if (f.seq) lastSeq = f.seq; },
    onStatus: (s) => statuses.push(s),
    makeSocket: (u) => { const s = new FakeSocket(u); sockets.push(s); return s; },
    timers, random: () => 1, pingEvery: 1000, ...extra,
  });
  return { conn, sockets, frames, statuses, timers };
}

test("says hello with the last seq it saw, again after each reconnect", () => {
  const { conn, sockets, timers, statuses } = setup();
  conn.start();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, [{ type: "hello", last_seq: 0 }]);
  sockets[0].receive({ type: "ready", conversation_id: "c", last_seq: 0 });
  sockets[0].receive({ type: "message", seq: 7, message_id: "m" });
  sockets[0].drop();
  assert.equal(statuses.at(-1), "offline");
  timers.advance(499);
  assert.equal(sockets.length, 1, "waits for the backoff");
  timers.advance(1);
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.deepEqual(sockets[1].sent, [{ type: "hello", last_seq: 7 }]);
});

test("backs off longer after each failed attempt, and resets once ready", () => {
  const { conn, sockets, timers } = setup();
  conn.start();
  sockets[0].drop();
  timers.advance(500);
  sockets[1].drop();
  timers.advance(999);
  assert.equal(sockets.length, 2);
  timers.advance(1);
  assert.equal(sockets.length, 3);
  sockets[2].open();
  sockets[2].receive({ type: "ready" });
  sockets[2].drop();
  timers.advance(500);
  assert.equal(sockets.length, 4, "a successful connection resets the backoff");
});

test("frames are only sent on a greeted connection", () => {
  const { conn, sockets } = setup();
  conn.start();
  assert.equal(conn.send({ type: "typing" }), false);
  sockets[0].open();
  assert.equal(conn.send({ type: "typing" }), false, "not before ready");
  sockets[0].receive({ type: "ready" });
  assert.equal(conn.send({ type: "typing" }), true);
  assert.deepEqual(sockets[0].sent.at(-1), { type: "typing" });
});

test("a link that stops answering pings is dropped and replaced", () => {
  const { conn, sockets, timers } = setup();
  conn.start();
  sockets[0].open();
  sockets[0].receive({ type: "ready" });
  timers.advance(1000);
  assert.deepEqual(sockets[0].sent.at(-1), { type: "ping" });
  timers.advance(1000); // no pong came back
  assert.equal(sockets[0].closed, true);
  timers.advance(500);
  assert.equal(sockets.length, 2);
});

test("stop() ends reconnecting", () => {
  const { conn, sockets, timers } = setup();
  conn.start();
  conn.stop();
  timers.advance(60000);
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].closed, true);
});
