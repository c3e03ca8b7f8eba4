// Messages the customer sent and the server has not yet acknowledged. They are
// kept in the Session (so a reload keeps them too) and resent, with the same
// client_msg_id, after every `ready`; the server ignores a second copy.

// Errors (without seq) that refuse a message we sent.
export const REFUSED = new Set(["empty_message", "message_too_long", "too_many_attachments",
  "attachment_not_found", "rate_limited", "bad_field"]);

export class Outbox {
  /** @param {import("./core.js").Session} session  @param {{send(frame): boolean}} connection */
  constructor(session, connection) {
    this.session = session;
    this.connection = connection;
    this.inflight = []; // client_msg_ids sent on this socket and not yet echoed, oldest first
  }

  get pending() {
    return this.session.pending;
  }

  /** Keep `frame` until acknowledged, and send it now if the connection is up. */
  queue(frame) {
    this.session.queue(frame);
    this._send(frame);
  }

  /** After `ready`: everything unacknowledged goes out again, oldest first. */
  resendAll() {
    this.inflight = [];
    for (const frame of this.pending) this._send(frame);
  }

  /** The server echoed the message: it is stored, stop keeping it. */
  acknowledge(clientMsgId) {
    this.session.acknowledge(clientMsgId);
    this.inflight = this.inflight.filter((id) => id !== clientMsgId);
  }

  /** The server refused a message with `error`: forget it and return it (null if none). */
  refuse(error) {
    if (!REFUSED.has(error.code) || !this.inflight.length) return null;
    // The server answers frames in order, so an error without an id is about the oldest in flight.
    const id = error.client_msg_id || this.inflight[0];
    const frame = this.pending.find((p) => p.client_msg_id === id) || null;
    this.acknowledge(id);
    return frame;
  }

  _send(frame) {
    if (this.connection.send(frame)) this.inflight.push(frame.client_msg_id);
  }
}
