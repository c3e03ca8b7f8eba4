// A websocket that comes back: reconnects with backoff and jitter, says `hello`
// again each time (the caller puts conversation_id, resume_token and last_seq in
// it, so the server replays only what was missed), and notices a silently dead
// link by a ping that gets no answer. Sockets and timers are injected for tests.

import { backoffDelay } from "./core.js";

export class Connection {
  /**
   * @param {object} options
   * @param {string|(() => string)} options.url  ws(s):// URL, or a function giving it per attempt
   * @param {() => object} options.hello  the first frame of every connection
   * @param {(frame: object) => void} options.onFrame  every frame the server sends
   * @param {(status: string) => void} [options.onStatus]  connecting | online | offline
   */
  constructor({ url, hello, onFrame, onStatus = () => {}, makeSocket, timers, random,
    pingEvery = 15000, backoff = {} }) {
    this.url = url;
    this.hello = hello;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.makeSocket = makeSocket || ((u) => new WebSocket(u));
    this.timers = timers || globalThis;
    this.random = random || Math.random;
    this.pingEvery = pingEvery;
    this.backoff = backoff;
    this.attempt = 0;
    this.socket = null;
    this.stopped = true;
    this.ready = false;
    this._retry = null;
    this._ping = null;
    this._heardSincePing = true;
  }

  start() {
    this.stopped = false;
    this._open();
  }

  /** Close for good (the customer closed the conversation or the page goes away). */
  stop() {
    this.stopped = true;
    this.timers.clearTimeout(this._retry);
    this._drop();
  }

  /** Reconnect now rather than at the next backoff step (the browser came back online). */
  retryNow() {
    if (this.stopped || this.socket) return;
    this.timers.clearTimeout(this._retry);
    this.attempt = 0;
    this._open();
  }

  /** Close the current socket as broken; the usual backoff brings a new one. */
  kill() {
    if (this.socket) this._onClose(this.socket);
  }

  /** Send a frame; false when there is no open, greeted connection to send it on. */
  send(frame) {
    if (!this.socket || !this.ready) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  _open() {
    const url = typeof this.url === "function" ? this.url() : this.url;
    this.onStatus("connecting");
    let socket;
    try {
      socket = this.makeSocket(url);
    } catch {
      this._schedule();
      return;
    }
    this.socket = socket;
    this.ready = false;
    socket.onopen = () => socket.send(JSON.stringify(this.hello()));
    socket.onmessage = (event) => this._onMessage(socket, event);
    socket.onclose = () => this._onClose(socket);
    socket.onerror = () => {}; // a close always follows; reconnecting happens there
  }

  _onMessage(socket, event) {
    if (socket !== this.socket) return;
    this._heardSincePing = true;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return; // not ours to show; the server only sends JSON
    }
    if (frame.type === "ready") {
      this.ready = true;
      this.attempt = 0;
      this._startPing();
      this.onStatus("online");
    }
    this.onFrame(frame);
  }

  _onClose(socket) {
    if (socket !== this.socket) return;
    this._drop();
    this.onStatus("offline");
    if (!this.stopped) this._schedule();
  }

  _drop() {
    this.timers.clearInterval(this._ping);
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  _schedule() {
    const delay = backoffDelay(this.attempt++, { ...this.backoff, random: this.random });
    this._retry = this.timers.setTimeout(() => {
      if (!this.stopped && !this.socket) this._open();
    }, delay);
  }

  _startPing() {
    this.timers.clearInterval(this._ping);
    this._heardSincePing = true;
    this._ping = this.timers.setInterval(() => {
      // Nothing heard since the last ping: the link is dead even if the socket says open.
      if (!this._heardSincePing) return this.kill();
      this._heardSincePing = false;
      this.send({ type: "ping" });
    }, this.pingEvery);
  }
}
