// <support-chat-widget>: the customer's chat, in a shadow root so that the host
// page's CSS and ours never meet. It folds server frames into a ConversationLog,
// draws each item, and keeps every message the customer sent until the server has
// acknowledged it, across reconnects and page reloads.

import { Attachments, download, RecordingBar, upload } from "./composer.js";
import { Connection } from "./connection.js";
import { ConversationLog, describeState, newClientMsgId, Session } from "./core.js";
import { LogView } from "./messages.js";
import { Outbox } from "./outbox.js";
import { CSS } from "./styles.js";
import { TEMPLATE } from "./template.js";
import { TypingSignal } from "./typing.js";

const TYPING_EVERY = 2500; // ms between our "typing" frames while the customer types
const TYPING_SHOWN = 5000; // ms an agent's typing indicator stays without a new frame
// Errors answering our hello: the stored conversation cannot be resumed, so start a new one.
const LOST = new Set(["conversation_not_found", "forbidden"]);

export class SupportChatWidget extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    const config = this.config || { ...this.dataset };
    this.server = new URL(config.server || location.origin).origin;
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = CSS;
    const template = document.createElement("template");
    template.innerHTML = TEMPLATE; // fixed markup only; see template.js
    root.append(style, template.content.cloneNode(true));
    this.$ = (selector) => root.querySelector(selector);
    this._configure(config);
    this.view = new LogView(this.$(".log"), {
      upload: (id, item) => this._upload(id, item),
      onFeedback: (item, rating) => this._rate(item, rating),
      canRetry: (item) => !!this.log.questionOf(item),
      onRetry: (item) => this._retry(item),
      // a clarifying question's options stay tappable while it is the last word
      canChoose: (item) => this.log.items.at(-1) === item,
      onChoose: (item, option) => this._queue({ type: "message", text: option.label,
                                                client_msg_id: newClientMsgId() }),
    });
    this._reset();
    this.session = new Session(globalThis.localStorage, this.server);
    this.uploads = new Map(); // upload id -> {kind, url}: our own at once, others fetched once
    this.attachments = new Attachments(this.$(".previews"));
    this.recording = new RecordingBar(this.$(".recording"), { onError: (m) => this._notice(m) });
    this._restorePending();
    this._wire();
    this.connection = new Connection({
      url: () => this.server.replace(/^http/, "ws") + "/ws/chat",
      hello: () => this._hello(),
      onFrame: (frame) => this._onFrame(frame),
      onStatus: (status) => this._onStatus(status),
    });
    this.outbox = new Outbox(this.session, this.connection);
    this.typing = new TypingSignal(() => this.connection.send({ type: "typing" }), { every: TYPING_EVERY });
    this.connection.start();
    if (config.open === "true") this.open();
  }

  disconnectedCallback() {
    this.connection?.stop();
  }

  _configure(config) {
    this.config = config;
    this.chatTitle = config.title || "Support";
    this.$("#title").textContent = this.chatTitle;
    this.$(".launcher-label").textContent = `Open chat: ${this.chatTitle}`;
    if (config.color) this.style.setProperty("--accent", config.color);
    if (config.position) this.setAttribute("data-position", config.position);
  }

  /** An empty conversation: the greeting only. */
  _reset() {
    this.log = new ConversationLog();
    this.view.reset(this.config.greeting || "Hi! How can we help you today?");
    this._showState("bot", "");
  }

  _wire() {
    const input = this.$("#input");
    this.$(".launcher").addEventListener("click", () => (this.$(".panel").hidden ? this.open() : this.close()));
    this.$(".close").addEventListener("click", () => this.close());
    this.$(".panel").addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !this.recording.active) this.close();
    });
    this.$(".composer").addEventListener("submit", (e) => {
      e.preventDefault();
      this.sendMessage();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendMessage();
      }
    });
    input.addEventListener("input", () => this.typing.input());
    input.addEventListener("paste", (e) => {
      const files = [...(e.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
      if (files.length) this.attachments.add(files);
    });
    const file = this.$(".file");
    this.$(".attach").addEventListener("click", () => file.click());
    file.addEventListener("change", () => {
      this.attachments.add([...file.files]);
      file.value = "";
      input.focus();
    });
    this.$(".mic").hidden = !this.recording.supported;
    this.$(".mic").addEventListener("click", () => this.recordVoice());
    this.$(".handoff").addEventListener("click", () => this._sendControl({ type: "handoff" }));
    this.$(".restart").addEventListener("click", () => this.restart());
    addEventListener("online", () => this.connection.retryNow());
    addEventListener("offline", () => this.connection.kill());
  }

  open() {
    this.$(".panel").hidden = false;
    this.$(".launcher").setAttribute("aria-expanded", "true");
    this.$("#input").focus();
    this.view.scroll();
  }

  close() {
    this.$(".panel").hidden = true;
    this.$(".launcher").setAttribute("aria-expanded", "false");
    this.$(".launcher").focus();
  }

  /** Send what is in the composer: text and any images (uploaded first). */
  async sendMessage() {
    const input = this.$("#input");
    const text = input.value.trim();
    if (!text && !this.attachments.files.length) return;
    const files = this.attachments.take();
    input.value = "";
    let ids;
    try {
      ids = await this._uploadAll(files.map(({ file, url }) => ({ blob: file, name: file.name, url })));
    } catch (err) {
      // Keep the draft: nothing the customer wrote or attached is lost on a failed upload.
      input.value = text;
      this.attachments.add(files.map((f) => f.file));
      return this._notice(err.message);
    }
    this._queue({ type: "message", text, attachments: ids, client_msg_id: newClientMsgId() });
  }

  /** Record a voice note, upload it, and send it as a message of its own. */
  async recordVoice() {
    if (this.recording.active) return;
    const blob = await this.recording.record();
    this.$("#input").focus();
    if (!blob) return;
    try {
      const [id] = await this._uploadAll([{ blob, name: "voice-note.webm", kind: "audio" }]);
      this._queue({ type: "message", text: "", attachments: [id], client_msg_id: newClientMsgId() });
    } catch (err) {
      this._notice(err.message);
    }
  }

  /** Forget the closed conversation and start a new one. */
  restart() {
    this.session.forget();
    this._reset();
    this.connection.stop();
    this.connection.start();
  }

  async _uploadAll(items) {
    const { conversationId, resumeToken } = this.session;
    if (items.length && !conversationId) throw new Error("Still connecting; try again in a moment.");
    const ids = [];
    for (const { blob, name, url, kind } of items) {
      const body = await upload(this.server, blob, name, { conversationId, resumeToken });
      const type = body.content_type || blob.type || "";
      this.uploads.set(body.id, { kind: kind || (type.startsWith("audio/") ? "audio" : "image"), url });
      ids.push(body.id);
    }
    return ids;
  }

  /** What an attachment is, for drawing it; unknown ones are fetched and the item redrawn. */
  _upload(id, item) {
    if (this.uploads.has(id)) return this.uploads.get(id);
    this.uploads.set(id, null);
    download(this.server, id, this.session.resumeToken).then(
      (found) => { this.uploads.set(id, found); this.view.draw(item); },
      () => {}, // not viewable (e.g. expired): the item keeps its "Attachment" label
    );
    return null;
  }

  _queue(frame) {
    this.typing.reset(); // the next keystroke starts a new burst: the agent sees it at once
    this.view.draw(this.log.addPending(frame));
    this.outbox.queue(frame); // when offline it stays queued and goes out after "ready"
    this._redrawCut();
  }

  /** Send the question of an interrupted answer again, as a new message. */
  _retry(item) {
    const question = this.log.questionOf(item);
    if (!question) return this.view.draw(item); // the talk moved on: the button goes
    this._queue({ type: "message", text: question.text, attachments: question.attachments || [],
                  client_msg_id: newClientMsgId() });
  }

  /** The last interrupted answer offers "Ask again", and the last clarifying question its
   * options, only while nothing was said after it. */
  _redrawCut() {
    const cut = [...this.log.items].reverse().find((i) => i.kind === "bot" && i.interrupted);
    if (cut) this.view.draw(cut);
    const asked = [...this.log.items].reverse().find((i) => i.kind === "bot" && i.options?.length);
    if (asked && asked !== cut) this.view.draw(asked);
  }

  _restorePending() {
    for (const frame of this.session.pending) this.view.draw(this.log.addPending(frame));
  }

  _sendControl(frame) {
    if (!this.connection.send(frame)) this._notice("You are offline; try again when the connection is back.");
  }

  _hello() {
    const frame = { type: "hello", last_seq: this.log.lastSeq };
    if (this.session.conversationId) {
      frame.conversation_id = this.session.conversationId;
      frame.resume_token = this.session.resumeToken;
    }
    if (this.config.userId) Object.assign(frame, { user_id: this.config.userId, user_hash: this.config.userHash });
    return frame;
  }

  _onFrame(frame) {
    if (frame.type === "ready") return this._onReady(frame);
    if (frame.type === "error" && !frame.seq) return this._onRefusal(frame);
    if (frame.type === "typing") return this._showTyping(frame);
    if (frame.type === "pong") return;
    const item = this.log.apply(frame);
    if (frame.type === "message" && frame.client_msg_id) this.outbox.acknowledge(frame.client_msg_id);
    if (frame.type === "status" && item) this._showState(this.log.state, this.log.agent);
    if (frame.type === "agent_message") this.$(".typing").hidden = true;
    if (item) this.view.draw(item);
    // Whatever is said after an interrupted answer takes its "Ask again" away.
    if (item && (item.kind !== "bot" || frame.type === "answer_started")) this._redrawCut();
  }

  _onReady(frame) {
    if (this.session.conversationId && frame.conversation_id !== this.session.conversationId) {
      // The server no longer knows the old conversation: start clean, keep unsent messages.
      this._reset();
      this._restorePending();
    }
    this.session.remember(frame);
    this._showState(frame.state || this.log.state, frame.agent || this.log.agent);
    this.outbox.resendAll();
  }

  /** An error about a frame we sent (no seq): a refused message, or a conversation we lost. */
  _onRefusal(frame) {
    if (LOST.has(frame.code) && !this.connection.ready) {
      this.session.forget({ keepPending: true });
      this._reset();
      this._restorePending();
      this.connection.kill(); // the next socket says hello without the old conversation
      return;
    }
    const refused = this.outbox.refuse(frame);
    if (refused) {
      const item = this.log.items.find((i) => i.pending && i.clientMsgId === refused.client_msg_id);
      if (item) this.view.remove(item);
      const input = this.$("#input");
      if (refused.text && !input.value) input.value = refused.text; // nothing typed is lost
    }
    if (frame.code === "not_ready" || frame.code === "shutting_down") this.connection.kill();
    this._notice(frame.message || frame.code);
  }

  _onStatus(status) {
    const text = { connecting: "Connecting…", online: "", offline: "Offline — reconnecting…" }[status];
    this.$(".conn").textContent = text ?? "";
    this.dataset.connection = status;
  }

  _showState(state, agent) {
    this.$(".banner").dataset.state = state;
    this.$(".state-text").textContent = describeState(state, agent);
    this.$(".handoff").hidden = state !== "bot";
    this.$(".restart").hidden = state !== "closed";
    this.dataset.state = state;
  }

  _showTyping(frame) {
    const box = this.$(".typing");
    clearTimeout(this._typingTimer);
    box.textContent = `${frame.agent || "Support"} is typing…`;
    box.hidden = frame.active === false;
    this._typingTimer = setTimeout(() => (box.hidden = true), TYPING_SHOWN);
  }

  _notice(message) {
    this.view.draw(this.log.addNotice(message));
  }

  _rate(item, rating) {
    if (!this.connection.send({ type: "feedback", message_id: item.id, rating })) return;
    item.rating = rating;
    this.view.draw(item);
  }
}

/** Create the widget on this page with `config` (the embed tag's data attributes). */
export function mount(config) {
  if (!customElements.get("support-chat-widget")) customElements.define("support-chat-widget", SupportChatWidget);
  const widget = document.createElement("support-chat-widget");
  widget.config = config;
  document.body.appendChild(widget);
  return widget;
}
