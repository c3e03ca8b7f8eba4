// One conversation's history as the agent sees it: the customer's messages with
// their images, voice-note transcripts and text read from screenshots; the bot's
// answers with their sources (live while they stream); agents' replies; notes.

import { sourcesList } from "../widget/messages.js";
import { setRichText } from "../widget/render.js";

const el = (doc, tag, className, text) => {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

function attachment(doc, li, id, api) {
  const slot = li.appendChild(el(doc, "span", "attachment", "Loading attachment…"));
  api.upload(id).then(({ url, type }) => {
    const media = type.startsWith("audio/") ? el(doc, "audio") : el(doc, "img");
    media.src = url;
    if (media.tagName === "AUDIO") media.controls = true;
    else media.alt = "Image sent by the customer";
    slot.replaceChildren(media);
  }, () => (slot.textContent = `Attachment ${id} (not viewable)`));
}

const PAINTERS = {
  user(doc, li, item, api) {
    li.appendChild(el(doc, "span", "who", "Customer"));
    if (item.text) setRichText(li.appendChild(el(doc, "div", "body")), item.text);
    for (const id of item.attachments || []) attachment(doc, li, id, api);
    if (item.transcript) li.appendChild(el(doc, "span", "transcript", `Voice note: “${item.transcript}”`));
    for (const { text } of item.imageText || []) {
      li.appendChild(el(doc, "span", "extracted", `Text in the image: ${text}`));
    }
  },
  bot(doc, li, item) {
    li.appendChild(el(doc, "span", "who", item.streaming ? "Assistant (answering…)" : "Assistant"));
    setRichText(li.appendChild(el(doc, "div", "body")), item.text);
    if (item.interrupted) li.appendChild(el(doc, "span", "rating", "(interrupted)"));
    if (item.options?.length) {  // a clarifying question: the customer's next message chooses
      li.classList.add("clarify");
      li.appendChild(el(doc, "span", "clarify-note",
                        `Asked which: ${item.options.map((o) => o.intent).join(" or ")}`));
    } else if (item.grounded === false) {
      li.classList.add("unsure");
      li.appendChild(el(doc, "span", "unsure-note", "Unsure: nothing in the knowledge base answers this"));
    }
    if (item.sources?.length) li.appendChild(sourcesList(doc, item.sources)).open = true;
    if (item.rating) li.appendChild(el(doc, "span", "rating", `Customer rated this answer ${item.rating === "up" ? "helpful" : "not helpful"}`));
  },
  agent(doc, li, item) {
    li.appendChild(el(doc, "span", "who", item.agent || "Agent"));
    setRichText(li.appendChild(el(doc, "div", "body")), item.text);
  },
  note(doc, li, item) {
    li.textContent = `Note${item.author ? ` by ${item.author}` : ""}: ${item.text}`;
  },
  system(doc, li, item) {
    li.textContent = item.text;
  },
  error(doc, li, item) {
    li.textContent = `Error (${item.code || "internal"}): ${item.text}`;
  },
};

export class History {
  constructor(list, api) {
    this.list = list;
    this.api = api;
    this.nodes = new Map();
  }

  clear() {
    this.nodes = new Map();
    this.list.replaceChildren();
  }

  /** Draw an item of the ConversationLog (suggestions are the assist panel's, not drawn here). */
  draw(item) {
    if (item.kind === "suggestion") return;
    const doc = this.list.ownerDocument;
    let li = this.nodes.get(item);
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    if (!li) {
      li = this.list.appendChild(doc.createElement("li"));
      this.nodes.set(item, li);
    }
    li.replaceChildren();
    li.className = `item ${item.kind}${item.streaming ? " streaming" : ""}`;
    if (item.id) li.dataset.messageId = item.id;
    li.setAttribute("aria-busy", String(!!item.streaming));
    (PAINTERS[item.kind] || PAINTERS.system)(doc, li, item, this.api);
    if (atBottom) this.list.scrollTop = this.list.scrollHeight; // do not yank an agent reading back
  }
}
