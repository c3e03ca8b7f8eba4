// Agent assist: a suggested reply drafted from the knowledge base for the customer's
// last message (with its sources), and a search box over the resolved tickets. Both
// can put their text into the reply box, where the agent edits it before sending.

import { sourcesList } from "../widget/messages.js";
import { setRichText } from "../widget/render.js";

export class Assist {
  /** @param {{api, $: (sel: string) => Element, insert: (text: string) => void, requestSuggestion: () => boolean}} deps */
  constructor({ api, $, insert, requestSuggestion }) {
    this.api = api;
    this.$ = $;
    this.insert = insert;
    this.requestSuggestion = requestSuggestion;
    this.current = null; // the suggestion item shown
    $("#suggest").addEventListener("click", () => this.ask());
    $("#insert-suggestion").addEventListener("click", () => this.current && this.insert(this.current.text));
    $("#kb-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.search($("#kb-query").value.trim());
    });
  }

  /** A new conversation is open: forget the old suggestion. */
  reset() {
    this.current = null;
    this.$("#suggestion").replaceChildren();
    this.$("#insert-suggestion").disabled = true;
  }

  ask() {
    const box = this.$("#suggestion");
    if (this.requestSuggestion()) box.textContent = "Drafting a reply…";
    else box.textContent = "Open a conversation first.";
  }

  /** Show a suggestion item of the ConversationLog. */
  show(item) {
    this.current = item;
    const box = this.$("#suggestion");
    const doc = box.ownerDocument;
    box.replaceChildren();
    if (item.internal) { // first, so a long draft cannot scroll it out of sight
      const note = box.appendChild(doc.createElement("p"));
      note.className = "internal-note";
      note.textContent = "Drawn on internal guidelines: reword it for the customer before sending.";
    }
    const body = box.appendChild(doc.createElement("div"));
    body.className = "suggestion-text";
    setRichText(body, item.text || "(no suggestion: nothing similar in the knowledge base)");
    if (item.sources?.length) box.appendChild(sourcesList(doc, item.sources)).open = true;
    this.$("#insert-suggestion").disabled = !item.text || !!item.streaming;
  }

  async search(query) {
    const list = this.$("#kb-results");
    if (!query) return;
    list.replaceChildren();
    const doc = list.ownerDocument;
    let hits;
    try {
      hits = await this.api.searchKb(query);
    } catch (err) {
      list.appendChild(doc.createElement("li")).textContent = `Search failed: ${err.message}`;
      return;
    }
    if (!hits.length) list.appendChild(doc.createElement("li")).textContent = "Nothing found.";
    for (const hit of hits) list.appendChild(this._hit(doc, hit));
  }

  _hit(doc, hit) {
    const li = doc.createElement("li");
    li.className = "kb-hit";
    const q = li.appendChild(doc.createElement("div"));
    q.className = "q";
    q.textContent = hit.request || hit.id;
    const a = li.appendChild(doc.createElement("div"));
    a.className = "a";
    setRichText(a, hit.resolution);
    const meta = li.appendChild(doc.createElement("div"));
    meta.className = "meta";
    meta.textContent = [hit.internal ? "internal" : "", hit.category, hit.intent,
      `similarity ${Number(hit.score || 0).toFixed(2)}`].filter(Boolean).join(" · ");
    const b = li.appendChild(doc.createElement("button"));
    b.type = "button";
    b.textContent = "Insert";
    b.setAttribute("aria-label", `Insert the answer to “${hit.request || hit.id}”`);
    b.addEventListener("click", () => this.insert(hit.resolution));
    return li;
  }
}
