// Pure pieces of the chat clients (no DOM, no sockets), shared by the widget and
// the agents' console and unit-tested with `node --test`: reconnect backoff, the
// conversation log folded from server frames (deduplicated by seq), and the
// persisted session of a customer.

/** Delay before reconnect attempt `attempt` (0, 1, 2, ...): exponential, capped, with
 * "full jitter" so that a thousand widgets cut off together do not return together. */
export function backoffDelay(attempt, { base = 500, max = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A client-chosen id for an outgoing message; a resend with the same id is ignored
 * by the server, which is what makes resending after a reconnect safe. */
export function newClientMsgId(random = Math.random) {
  const part = () => Math.floor(random() * 0x100000000).toString(16).padStart(8, "0");
  return `c-${Date.now().toString(36)}-${part()}${part()}`;
}

const STATE_TEXT = {
  bot: "The assistant is answering",
  waiting_human: "Waiting for a person to join",
  human: "You are talking to a person",
  closed: "This conversation is closed",
};

/** Human sentence for a conversation state (agent name when one joined). */
export function describeState(state, agent = "") {
  if (state === "human" && agent) return `${agent} has joined the conversation`;
  return STATE_TEXT[state] || state;
}

/**
 * The conversation as a client shows it, folded from server frames.
 *
 * Frames with a `seq` belong to the log; one at or below `lastSeq` was already
 * applied (a replay after a reconnect) and is ignored, so a resume never shows a
 * message twice. Frames without `seq` (typing, pong, live deltas on some servers)
 * are applied as they come; the final `answer` frame carries the whole text, so a
 * delta lost in a network cut is repaired by it.
 */
export class ConversationLog {
  constructor() {
    this.lastSeq = 0;
    this.items = []; // {kind: user|bot|agent|system|error, id, text, ...} in display order
    this.byId = new Map();
    this.state = "bot";
    this.agent = "";
    this.reason = "";
  }

  /** Apply one frame; returns the changed item (or null when nothing visible changed). */
  apply(frame) {
    if (typeof frame.seq === "number" && frame.seq > 0) {
      if (frame.seq <= this.lastSeq) return null;
      this.lastSeq = frame.seq;
    }
    const handler = HANDLERS[frame.type];
    return handler ? handler(this, frame) : null;
  }

  /** Show a message the customer sent before the server has it (kept until it echoes it). */
  addPending(frame, extra = {}) {
    const known = this.items.find((i) => i.clientMsgId === frame.client_msg_id);
    if (known) return known;
    return this._add({
      kind: "user", id: "", clientMsgId: frame.client_msg_id, text: frame.text || "",
      attachments: frame.attachments || [], transcript: "", imageText: [], pending: true, ...extra,
    });
  }

  /** A line of the client's own (an upload failed, a message was refused); not in the server's log. */
  addNotice(text, code = "") {
    return this._add({ kind: "error", id: "", code, text });
  }

  /** The customer's message to send again for an answer cut off by the server (a worker
   * died, a restart ran out of grace): the last message before it, while the bot is in
   * charge and nobody has said anything since; otherwise null (the talk moved on). */
  questionOf(answer) {
    if (!answer?.interrupted || this.state !== "bot") return null;
    const at = this.items.indexOf(answer);
    if (at < 0 || this.items.slice(at + 1).some((i) => SAID.has(i.kind))) return null;
    for (let i = at - 1; i >= 0; i--) {
      const item = this.items[i];
      if (item.kind === "user") return item.text || item.attachments?.length ? item : null;
      if (SAID.has(item.kind)) return null;
    }
    return null;
  }

  /** Items of one kind, e.g. log.ofKind("user"). */
  ofKind(kind) {
    return this.items.filter((item) => item.kind === kind);
  }

  _add(item) {
    this.items.push(item);
    if (item.id) this.byId.set(item.id, item);
    return item;
  }

  _bot(id, kind = "bot") {
    return this.byId.get(id) || this._add({ kind, id, text: "", sources: [], streaming: true });
  }
}

const SAID = new Set(["user", "bot", "agent"]); // items that move a conversation on

const HANDLERS = {
  message(log, f) {
    if (log.byId.get(f.message_id)) return null;
    const pending = f.client_msg_id && log.items.find((i) => i.pending && i.clientMsgId === f.client_msg_id);
    if (pending) {
      // The server has it now: the same bubble turns from "sending" to sent.
      Object.assign(pending, { id: f.message_id, pending: false, text: f.text || "", at: f.at });
      log.byId.set(f.message_id, pending);
      return pending;
    }
    return log._add({
      kind: "user", id: f.message_id, clientMsgId: f.client_msg_id || "", text: f.text || "",
      attachments: f.attachments || [], transcript: "", imageText: [], at: f.at,
    });
  },
  transcript(log, f) {
    const item = log.byId.get(f.message_id);
    if (!item) return null;
    item.transcript = f.text;
    return item;
  },
  image_text(log, f) {
    const item = log.byId.get(f.message_id);
    if (!item) return null;
    item.imageText = [...(item.imageText || []), { attachment: f.attachment, text: f.text }];
    return item;
  },
  answer_started(log, f) {
    return log._bot(f.message_id);
  },
  delta(log, f) {
    const item = log._bot(f.message_id);
    if (!item.streaming) return null; // late delta after the final answer
    item.text += f.text;
    return item;
  },
  answer(log, f) {
    const item = log._bot(f.message_id);
    Object.assign(item, {
      text: f.text, sources: f.sources || [], interrupted: !!f.interrupted, streaming: false,
      grounded: f.grounded !== false, // false: the history held no answer and the text says so
      options: f.options || [], // a clarifying question's choices: [{intent, label}]
    });
    return item;
  },
  suggestion(log, f) {
    const item = log._bot(f.message_id, "suggestion");
    Object.assign(item, { text: f.text, sources: f.sources || [], streaming: false, internal: !!f.internal });
    return item;
  },
  agent_message(log, f) {
    if (log.byId.get(f.message_id)) return null;
    return log._add({ kind: "agent", id: f.message_id, text: f.text, agent: f.agent || "", at: f.at });
  },
  status(log, f) {
    log.state = f.state;
    log.agent = f.agent || "";
    log.reason = f.reason || "";
    return log._add({ kind: "system", id: "", text: describeState(f.state, f.agent), state: f.state });
  },
  feedback(log, f) {
    const item = log.byId.get(f.message_id);
    if (!item) return null;
    item.rating = f.rating;
    return item;
  },
  note(log, f) {
    return log._add({ kind: "note", id: "", text: f.text, author: f.author || "" });
  },
  error(log, f) {
    // answer_id: the answer the error ended (message_id is the customer's question).
    const item = log.byId.get(f.answer_id || f.message_id || "") || null;
    if (item && item.streaming) item.streaming = false;
    return log._add({ kind: "error", id: "", code: f.code, text: f.message || f.code });
  },
};

/**
 * What a customer's browser remembers between page loads, per server origin:
 * the conversation to resume and the messages not yet acknowledged by the server.
 */
export class Session {
  constructor(storage, origin) {
    this.storage = storage;
    this.key = `support-widget:${origin}`;
    this.data = this._read();
  }

  get conversationId() { return this.data.conversation_id || ""; }
  get resumeToken() { return this.data.resume_token || ""; }
  get pending() { return this.data.pending || []; }

  remember({ conversation_id, resume_token }) {
    Object.assign(this.data, { conversation_id, resume_token: resume_token || this.resumeToken });
    this._write();
  }

  queue(frame) {
    this.data.pending = [...this.pending.filter((p) => p.client_msg_id !== frame.client_msg_id), frame];
    this._write();
  }

  acknowledge(clientMsgId) {
    const before = this.pending.length;
    this.data.pending = this.pending.filter((p) => p.client_msg_id !== clientMsgId);
    if (this.data.pending.length !== before) this._write();
  }

  /** Forget the conversation (closed, or unknown to the server); unsent messages may stay. */
  forget({ keepPending = false } = {}) {
    this.data = keepPending ? { pending: this.pending } : {};
    this._write();
  }

  _read() {
    try {
      return JSON.parse(this.storage?.getItem(this.key) || "{}") || {};
    } catch {
      return {}; // a corrupt entry starts a new conversation rather than breaking the widget
    }
  }

  _write() {
    try {
      this.storage?.setItem(this.key, JSON.stringify(this.data));
    } catch {
      // Storage full or blocked (private mode): the chat still works, only without resume.
    }
  }
}
