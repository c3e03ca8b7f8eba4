// The live list of conversations: grouped by state, waiting-for-a-person first
// (longest wait on top, the clock ticking), with unread counts and the reason of
// each handoff. The grouping is pure and unit-tested; the class draws it.

import { formatWait } from "../widget/render.js";

export const GROUPS = [
  ["waiting_human", "Waiting for a person"],
  ["human", "With an agent"],
  ["bot", "With the assistant"],
  ["closed", "Closed"],
];

const REASONS = {
  customer_request: "Customer asked for a person",
  low_confidence: "The assistant was not sure",
  agent: "", // the state line already says an agent joined
  closed: "",
};

/** A handoff reason as a sentence: "trigger:refund" -> "Matched the trigger “refund”". */
export function reasonText(reason) {
  if (!reason) return "";
  if (reason.startsWith("trigger:")) return `Matched the trigger “${reason.slice(8)}”`;
  return reason in REASONS ? REASONS[reason] : reason.replaceAll("_", " ");
}

/** Summaries in display groups: [[state, label, [summary...]], ...], empty groups left out. */
export function groupConversations(summaries, { closedLimit = 20 } = {}) {
  const out = [];
  for (const [state, label] of GROUPS) {
    let items = summaries.filter((s) => s.state === state);
    if (state === "waiting_human") items.sort((a, b) => (a.waiting_since || 0) - (b.waiting_since || 0));
    else items.sort((a, b) => (b.updated_at || 0) - (a.updated_at || 0));
    if (state === "closed") items = items.slice(0, closedLimit);
    if (items.length) out.push([state, label, items]);
  }
  return out;
}

/** Customer messages among log frames the agent has not seen (deltas and statuses are not "unread"). */
export function countUnread(frames) {
  return frames.filter((f) => f.type === "message").length;
}

export function conversationName(summary) {
  if (summary.title) return summary.title;
  if (summary.user_id) return summary.user_id;
  return `Visitor ${summary.conversation_id.slice(-6)}`;
}

export class Inbox {
  /** @param {{fetchEvents?: (id: string, after: number) => Promise<{events: object[]}>}} options */
  constructor(root, { fetchEvents = null, now = () => Date.now() / 1000 } = {}) {
    this.root = root;
    this.fetchEvents = fetchEvents;
    this.unread = new Map(); // conversation id -> unread customer messages
    this._counting = new Map(); // conversation id -> pending recount timer
    this.now = now;
    this.summaries = new Map();
    this.seen = new Map(); // conversation id -> last seq the agent has seen
    this.current = "";
    this._tick = setInterval(() => this._ticks(), 1000);
  }

  replace(list) {
    this.summaries = new Map(list.map((s) => [s.conversation_id, s]));
    for (const s of list) this._recount(s);
    this.draw();
  }

  update(summary) {
    const before = this.summaries.get(summary.conversation_id);
    this.summaries.set(summary.conversation_id, { ...before, ...summary });
    if ((summary.last_seq || 0) > (before?.last_seq || 0)) this._recount(summary);
    this.draw();
  }

  markSeen(id, seq) {
    this.seen.set(id, Math.max(this.seen.get(id) || 0, seq));
    if (this.unread.get(id)) {
      this.unread.set(id, 0);
      this.draw();
    }
  }

  /** Count the customer messages after what the agent saw (debounced: summaries come in bursts). */
  _recount(summary) {
    const id = summary.conversation_id;
    if (!this.fetchEvents || id === this.current || summary.state === "closed") return;
    clearTimeout(this._counting.get(id));
    this._counting.set(id, setTimeout(async () => {
      try {
        const { events } = await this.fetchEvents(id, this.seen.get(id) || 0);
        this.unread.set(id, countUnread(events || []));
        this.draw();
      } catch {
        // The count is a hint; the conversation itself still opens and shows everything.
      }
    }, 300));
  }

  select(id) {
    this.current = id;
    this.draw();
  }

  get(id) {
    return this.summaries.get(id);
  }

  draw() {
    const doc = this.root.ownerDocument;
    const focused = doc.activeElement?.dataset?.conversationId;
    const groups = groupConversations([...this.summaries.values()]);
    this.root.replaceChildren(...groups.map(([state, label, items]) => {
      const section = doc.createElement("section");
      section.className = `group ${state}`;
      const h = section.appendChild(doc.createElement("h3"));
      h.textContent = `${label} (${items.length})`;
      const ul = section.appendChild(doc.createElement("ul"));
      for (const s of items) ul.appendChild(this._row(doc, s));
      return section;
    }));
    if (!groups.length) this.root.textContent = "No conversations yet.";
    // Redrawing must not steal the keyboard focus of an agent moving through the list.
    if (focused) this.root.querySelector(`[data-conversation-id="${CSS.escape(focused)}"]`)?.focus();
  }

  _row(doc, s) {
    const li = doc.createElement("li");
    const b = li.appendChild(doc.createElement("button"));
    b.type = "button";
    b.className = "conv-item";
    b.dataset.conversationId = s.conversation_id;
    b.dataset.state = s.state;
    if (s.conversation_id === this.current) b.setAttribute("aria-current", "true");
    const line = b.appendChild(doc.createElement("span"));
    line.className = "line";
    const name = line.appendChild(doc.createElement("span"));
    name.className = "name";
    name.textContent = conversationName(s);
    const unread = s.conversation_id === this.current ? 0 : this.unread.get(s.conversation_id) || 0;
    if (unread) {
      const badge = line.appendChild(doc.createElement("span"));
      badge.className = "badge";
      badge.textContent = String(unread);
      const label = badge.appendChild(doc.createElement("span"));
      label.className = "sr-only";
      label.textContent = ` unread message${unread > 1 ? "s" : ""}`;
    }
    const meta = b.appendChild(doc.createElement("span"));
    meta.className = "meta";
    meta.textContent = [reasonText(s.handoff_reason), s.agent && `with ${s.agent}`].filter(Boolean).join(" · ");
    if (s.state === "waiting_human" && s.waiting_since) {
      const wait = b.appendChild(doc.createElement("span"));
      wait.className = "wait";
      wait.dataset.since = String(s.waiting_since);
      wait.textContent = `waiting ${formatWait(this.now() - s.waiting_since)}`;
    }
    return li;
  }

  _ticks() {
    for (const el of this.root.querySelectorAll(".wait[data-since]")) {
      el.textContent = `waiting ${formatWait(this.now() - Number(el.dataset.since))}`;
    }
  }
}
