// One conversation item -> one <li>, redrawn whenever the item changes. All text
// goes through setRichText / textContent; nothing here parses HTML.

import { setRichText } from "./render.js";
import { iconNode } from "./template.js";

const el = (doc, tag, className, text) => {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

/** Sources of an answer as a collapsed list: "Sources (3)". Records that read the same (an
 * answer's tickets are titled by their intent, so several of one intent do) are one line, "×2". */
export function sourcesList(doc, sources) {
  const lines = new Map(); // label -> {label, ids, best score}
  for (const s of sources) {
    const text = [s.title || s.id, [s.category, s.intent].filter(Boolean).join(" / ")]
      .filter(Boolean).join(" — ");
    const label = s.audience === "internal" ? `${text} (internal)` : text;
    const line = lines.get(label) || lines.set(label, { label, ids: [], score: null }).get(label);
    line.ids.push(s.id);
    if (typeof s.score === "number") line.score = Math.max(line.score ?? s.score, s.score);
  }
  const details = el(doc, "details", "sources");
  details.appendChild(el(doc, "summary", "", `Sources (${sources.length})`));
  const list = el(doc, "ul");
  for (const { label, ids, score } of lines.values()) {
    const li = el(doc, "li", "source", ids.length > 1 ? `${label} ×${ids.length}` : label);
    if (score !== null) li.title = `similarity ${score.toFixed(2)}`;
    li.dataset.id = ids.join(" ");
    list.appendChild(li);
  }
  details.appendChild(list);
  return details;
}

function attachmentsOf(doc, item, ctx) {
  const nodes = [];
  for (const id of item.attachments || []) {
    const known = ctx.upload(id, item); // {kind, url} once known; fetched in the background otherwise
    const kind = known?.kind || (item.transcript ? "audio" : "");
    if (kind === "audio") {
      const label = el(doc, "span", "voice");
      label.append(iconNode(doc, "mic"), " Voice note");
      nodes.push(label);
      const text = item.transcript ? `“${item.transcript}”` : "Transcribing…";
      const t = el(doc, "span", "transcript", text);
      t.dataset.ready = item.transcript ? "true" : "false";
      nodes.push(t);
    } else if (known?.url) {
      const img = el(doc, "img", "thumb");
      img.alt = known.alt || "Image sent";
      img.src = known.url;
      nodes.push(img);
    } else {
      const label = el(doc, "span", "voice");
      label.append(iconNode(doc, "image"), " Image");
      nodes.push(label);
    }
  }
  return nodes;
}

function thumbs(doc, item, ctx) {
  const box = el(doc, "div", "thumbs");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", "Was this answer helpful?");
  for (const [rating, label] of [["up", "Helpful"], ["down", "Not helpful"]]) {
    const b = el(doc, "button", `rate-${rating}`);
    b.appendChild(iconNode(doc, rating));
    b.type = "button";
    b.setAttribute("aria-label", label);
    b.setAttribute("aria-pressed", String(item.rating === rating));
    b.addEventListener("click", () => ctx.onFeedback(item, rating));
    box.appendChild(b);
  }
  return box;
}

/** A clarifying question's options, one button each: a tap sends the label as the reply. */
function choices(doc, item, ctx) {
  const box = el(doc, "div", "options");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", "Choose one");
  for (const option of item.options) {
    const b = box.appendChild(el(doc, "button", "option", option.label));
    b.type = "button";
    b.addEventListener("click", () => ctx.onChoose(item, option));
  }
  return box;
}

const PAINTERS = {
  user(doc, li, item, ctx) {
    if (item.text) setRichText(li.appendChild(el(doc, "div", "body")), item.text);
    li.append(...attachmentsOf(doc, item, ctx));
    if (item.pending) li.appendChild(el(doc, "span", "status", "Sending…"));
  },
  bot(doc, li, item, ctx) {
    li.appendChild(el(doc, "span", "sr-only", "Assistant: "));
    setRichText(li.appendChild(el(doc, "div", "body")), item.text);
    if (item.interrupted) li.appendChild(el(doc, "span", "status", "(answer interrupted)"));
    if (item.interrupted && ctx.canRetry?.(item)) {
      const again = li.appendChild(el(doc, "button", "retry", "Ask again"));
      again.type = "button";
      again.addEventListener("click", () => ctx.onRetry(item));
    }
    if (item.options?.length && ctx.canChoose?.(item)) li.appendChild(choices(doc, item, ctx));
    if (item.sources?.length) li.appendChild(sourcesList(doc, item.sources));
    if (!item.streaming && ctx.onFeedback && !item.options?.length) li.appendChild(thumbs(doc, item, ctx));
  },
  agent(doc, li, item, ctx) {
    li.appendChild(el(doc, "span", "who", item.agent || "Support agent"));
    setRichText(li.appendChild(el(doc, "div", "body")), item.text);
    // A person's reply is rated like the assistant's: the reports' CSAT for agents.
    if (ctx.onFeedback) li.appendChild(thumbs(doc, item, ctx));
  },
  system(doc, li, item) {
    li.textContent = item.text;
  },
  error(doc, li, item) {
    li.textContent = item.text;
    li.setAttribute("role", "alert");
  },
};

/** Draw `item` into `li` (created when null); returns the <li>. */
export function paintItem(doc, li, item, ctx) {
  li = li || doc.createElement("li");
  li.replaceChildren();
  li.className = `msg ${item.kind}${item.pending ? " pending" : ""}${item.streaming ? " streaming" : ""}`;
  if (item.id) li.dataset.messageId = item.id;
  if (item.clientMsgId) li.dataset.clientMsgId = item.clientMsgId;
  // A streaming answer is announced once, when it is complete, not at every token.
  li.setAttribute("aria-busy", String(!!item.streaming));
  (PAINTERS[item.kind] || PAINTERS.system)(doc, li, item, ctx);
  return li;
}

/** The <ol> of the conversation: one <li> per item, unacknowledged messages kept last. */
export class LogView {
  /** @param {HTMLOListElement} list  @param {object} ctx  what paintItem needs
   * (upload, onFeedback; canRetry and onRetry for interrupted answers; canChoose and onChoose
   * for a clarifying question's options) */
  constructor(list, ctx) {
    this.list = list;
    this.ctx = ctx;
    this.nodes = new Map(); // item -> <li>
  }

  /** Empty the log but for the greeting. */
  reset(greetingText) {
    this.nodes = new Map();
    const greeting = this.list.ownerDocument.createElement("li");
    greeting.className = "msg bot greeting";
    greeting.textContent = greetingText;
    this.list.replaceChildren(greeting);
  }

  draw(item) {
    const known = this.nodes.get(item);
    const li = paintItem(this.list.ownerDocument, known, item, this.ctx);
    // Replayed history and answers go above messages still being sent.
    const firstPending = [...this.list.children].find((n) => n.classList.contains("pending") && n !== li);
    if (!known || (!item.pending && firstPending && li.compareDocumentPosition(firstPending) & 2)) {
      this.list.insertBefore(li, firstPending || null);
    }
    this.nodes.set(item, li);
    this.scroll();
  }

  remove(item) {
    this.nodes.get(item)?.remove();
    this.nodes.delete(item);
  }

  scroll() {
    this.list.scrollTop = this.list.scrollHeight;
  }
}
