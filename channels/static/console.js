// The agents' console: sign in, follow the live list of conversations over
// /ws/agent, open one (its whole log, then live events), take over, reply, hand
// back, close, and save what was resolved to the knowledge base. A second tab
// shows the reports and the knowledge gaps to fill.

import { Api, login } from "./console/api.js";
import { Assist } from "./console/assist.js";
import { History } from "./console/history.js";
import { conversationName, Inbox, reasonText } from "./console/inbox.js";
import { Reports } from "./console/reports.js";
import { SaveDialog } from "./console/save.js";
import { Connection } from "./widget/connection.js";
import { ConversationLog, describeState } from "./widget/core.js";
import { TypingSignal } from "./widget/typing.js";

const $ = (selector) => document.querySelector(selector);
const TOKEN_KEY = "support-console:session";
const TYPING_EVERY = 2500;

class Console {
  constructor(session) {
    this.session = session; // {token, name, expires_at}
    this.api = new Api(session.token);
    this.inbox = new Inbox($("#inbox-groups"), { fetchEvents: (id, after) => this.api.events(id, after) });
    this.history = new History($("#history"), this.api);
    this.assist = new Assist({
      api: this.api, $, insert: (text) => this.insert(text),
      requestSuggestion: () => !!this.current && this.send({ type: "suggest", conversation_id: this.current }),
    });
    this.saveDialog = new SaveDialog({ api: this.api, $, onSaved: (r) => this._saved(r) });
    this.reports = new Reports({
      root: $("#panel-reports"), token: session.token, saveDialog: this.saveDialog, signOut,
      knownInboxes: () => [...this.inbox.summaries.values()].map((s) => s.inbox).filter(Boolean),
    });
    this.current = "";
    this.log = null;
    this.closing = ""; // the conversation this agent is closing: offer to save it when closed
    this.typing = new TypingSignal(() => !!this.current && this.send({ type: "typing", conversation_id: this.current }),
      { every: TYPING_EVERY });
    this.connection = new Connection({
      url: () => location.origin.replace(/^http/, "ws") + "/ws/agent",
      hello: () => ({ type: "hello", token: this.session.token }),
      onFrame: (f) => this.onFrame(f),
      onStatus: (s) => ($("#conn").textContent = s === "online" ? "" : s === "offline" ? "Offline — reconnecting…" : "Connecting…"),
    });
    this._wire();
  }

  start() {
    $("#signin").hidden = true;
    $("#app").hidden = false;
    $("#me").textContent = `Signed in as ${this.session.name}`;
    this.connection.start();
  }

  send(frame) {
    return this.connection.send(frame);
  }

  _wire() {
    $("#inbox-groups").addEventListener("click", (e) => {
      const button = e.target.closest("[data-conversation-id]");
      if (button) this.open(button.dataset.conversationId);
    });
    $("#take-over").addEventListener("click", () => this._act("take_over"));
    $("#hand-back").addEventListener("click", () => this._act("hand_back"));
    $("#close-conv").addEventListener("click", () => {
      this.closing = this.current;
      this._act("close");
    });
    $("#reply-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.reply();
    });
    $("#reply").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) this.reply();
    });
    $("#reply").addEventListener("input", () => this.typing.input());
    $("#signout").addEventListener("click", () => signOut(""));
    wireTabs($("[role=tablist]"), (tab) => tab.id === "tab-reports" && this.reports.show());
  }

  onFrame(frame) {
    switch (frame.type) {
      case "ready":
        this.send({ type: "subscribe" });
        if (this.current) this.send({ type: "open", conversation_id: this.current, last_seq: this.log.lastSeq });
        return;
      case "conversations":
        this.inbox.replace(frame.conversations || []);
        return this._waiting();
      case "conversation":
        this.inbox.update(frame);
        if (frame.conversation_id === this.current) this._header();
        return this._waiting();
      case "typing":
        return this._customerTyping(frame);
      case "pong":
        return;
      case "error":
        if (!frame.seq) return this._error(frame);
    }
    if (frame.conversation_id && frame.conversation_id === this.current) this._logFrame(frame);
  }

  open(id) {
    if (id === this.current) return;
    if (this.current) this.send({ type: "leave", conversation_id: this.current });
    this.current = id;
    this.typing.reset(); // typing in another conversation says nothing about this one
    this.log = new ConversationLog();
    this.history.clear();
    this.assist.reset();
    this.inbox.select(id);
    $("#empty").hidden = true;
    $("#conv").hidden = false;
    $("#reply").value = "";
    this._header();
    this.send({ type: "open", conversation_id: id });
    this._autoSuggest = true; // once the history is in, draft a reply if the customer waits for one
  }

  reply() {
    const text = $("#reply").value.trim();
    if (!text || !this.current) return;
    if (this.send({ type: "reply", conversation_id: this.current, text })) {
      $("#reply").value = "";
      this.typing.reset(); // the reply ends this burst: the next keystroke is shown at once
    } else {
      this._status("Offline: the reply was not sent; it is still in the box.");
    }
  }

  insert(text) {
    const box = $("#reply");
    box.value = box.value ? `${box.value}\n${text}` : text;
    box.focus();
  }

  _logFrame(frame) {
    const item = this.log.apply(frame);
    this.inbox.markSeen(this.current, this.log.lastSeq);
    if (!item) return;
    if (item.kind === "suggestion") this.assist.show(item);
    else this.history.draw(item);
    if (frame.type === "agent_message" || frame.type === "message") $("#customer-typing").hidden = true;
    if (frame.type === "status") {
      this._header();
      if (frame.state === "closed" && this.closing === this.current) {
        this.closing = "";
        this.saveDialog.open(this.current, this.log.items);
      }
    }
    this._maybeSuggest();
  }

  /** After the history arrives: a draft for the customer's last message, when a person is needed. */
  _maybeSuggest() {
    const summary = this.inbox.get(this.current);
    const asked = this.log.items.some((i) => i.kind === "user");
    const needed = ["waiting_human", "human"].includes(this.log.state);
    const caughtUp = this.log.lastSeq >= (summary?.last_seq || 0);
    if (this._autoSuggest && needed && asked && caughtUp) {
      this._autoSuggest = false;
      this.assist.ask();
    }
  }

  _header() {
    const summary = this.inbox.get(this.current) || { conversation_id: this.current };
    const state = this.log?.items.length ? this.log.state : summary.state || "bot";
    const agent = this.log?.items.length ? this.log.agent : summary.agent || "";
    const mine = state === "human" && agent === this.session.name;
    $("#conv-title").textContent = conversationName(summary);
    const reason = reasonText(summary.handoff_reason);
    $("#conv-state").textContent = [describeState(state, agent), reason].filter(Boolean).join(" — ");
    $("#take-over").disabled = mine || state === "closed";
    $("#hand-back").disabled = state !== "human";
    $("#close-conv").disabled = state === "closed";
    $("#reply").disabled = !mine;
    $("#send-reply").disabled = !mine;
    $("#reply").placeholder = mine ? "Write to the customer… (Ctrl+Enter sends)" : "Take over to reply…";
    $("#conv").dataset.state = state;
  }

  /** The Inbox tab counts the customers waiting for a person, seen from the Reports tab too. */
  _waiting() {
    const n = [...this.inbox.summaries.values()].filter((s) => s.state === "waiting_human").length;
    $("#tab-inbox").textContent = n ? `Inbox (${n} waiting)` : "Inbox";
  }

  _act(type) {
    if (!this.current || !this.send({ type, conversation_id: this.current })) {
      this._status("Offline: try again when the connection is back.");
    }
  }

  _customerTyping(frame) {
    if (frame.conversation_id !== this.current || frame.from === "agent") return;
    const el = $("#customer-typing");
    el.hidden = false;
    clearTimeout(this._typingTimer);
    this._typingTimer = setTimeout(() => (el.hidden = true), 5000);
  }

  _error(frame) {
    if (frame.code === "unauthorized") return signOut("Your session has ended; sign in again.");
    if (frame.code === "token_revoked") return signOut(frame.message || "Your account has changed; sign in again.");
    this._status(frame.message || frame.code);
  }

  _status(text) {
    $("#conv-state").textContent = text;
  }

  _saved(record) {
    this._status(`Saved to the knowledge base${record?.id ? ` as ${record.id}` : ""}.`);
  }
}

/** ARIA tabs: a click, Enter or Space selects; arrows, Home and End move the focus along. */
function wireTabs(tablist, onSelect) {
  const tabs = [...tablist.querySelectorAll("[role=tab]")];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
    onSelect(tab);
  };
  for (const tab of tabs) tab.addEventListener("click", () => select(tab));
  tablist.addEventListener("keydown", (e) => {
    const at = tabs.indexOf(e.target);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (at < 0 || to === undefined) return;
    e.preventDefault();
    tabs[(to + tabs.length) % tabs.length].focus();
  });
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = message ? `#${encodeURIComponent(message)}` : "";
  location.reload();
}

function signIn() {
  const form = $("#signin-form");
  const error = $("#signin-error");
  if (location.hash.length > 1) {
    error.textContent = decodeURIComponent(location.hash.slice(1));
    error.hidden = false;
    history.replaceState(null, "", location.pathname);
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    const name = $("#agent-name").value.trim();
    try {
      const body = await login(name, $("#agent-password").value);
      const session = { token: body.token, name: body.agent?.name || name, expires_at: body.expires_at };
      sessionStorage.setItem(TOKEN_KEY, JSON.stringify(session));
      new Console(session).start();
    } catch (err) {
      error.textContent = err.code === "bad_credentials" ? "Wrong name or password." : err.message;
      error.hidden = false;
    }
  });
  $("#agent-name").focus();
}

/** expires_at as ms since the epoch, whether the server sent ISO 8601 or seconds. */
function expiry(value) {
  if (!value) return Infinity;
  return typeof value === "number" ? (value < 1e12 ? value * 1000 : value) : Date.parse(value);
}

const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
if (saved && expiry(saved.expires_at) > Date.now()) new Console(saved).start();
else signIn();
