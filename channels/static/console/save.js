// "Save to the knowledge base" after an agent closes a conversation they resolved:
// the customer's request and the resolution, prefilled from the history and
// editable, become a new historical record (the server redacts personal data).
// Naming what it was about (one of the history's intents) makes the customer's
// words an example of that intent for the assistant's intent head.
// The reports' knowledge gaps open it too, as a draft with the answer still to write.

/** Prefill: what the customer said (text and voice), and what the agent answered. */
export function draftRecord(items) {
  const said = (i) => [i.text, i.transcript].filter(Boolean).join(" ").trim();
  const request = items.filter((i) => i.kind === "user").map(said).filter(Boolean).join("\n");
  let answers = items.filter((i) => i.kind === "agent").map((i) => i.text);
  if (!answers.length) answers = items.filter((i) => i.kind === "bot" && i.text).slice(-1).map((i) => i.text);
  return { request, resolution: answers.join("\n\n") };
}

export class SaveDialog {
  constructor({ api, $, onSaved }) {
    this.api = api;
    this.$ = $;
    this.onSaved = onSaved;
    this.dialog = $("#save-dialog");
    this.conversationId = "";
    this.notify = onSaved; // who hears of the record saved from this opening
    this.intro = $("#save-intro").textContent;
    this.intentsLoaded = null; // the select's options, fetched once
    $("#save-form").addEventListener("submit", (e) => this._submit(e));
  }

  /** Fill the intent select from the server, once; a failure leaves "Not sure" alone. */
  _loadIntents() {
    this.intentsLoaded ??= this.api.intents().then((intents) => {
      const select = this.$("#save-intent");
      const doc = select.ownerDocument;
      const byLabel = [...intents].sort((a, b) => a.label.localeCompare(b.label));
      for (const { intent, label } of byLabel) {
        const option = select.appendChild(doc.createElement("option"));
        option.value = intent;
        option.textContent = label === intent.replaceAll("_", " ") ? label : `${label} (${intent})`;
      }
    }).catch(() => { this.intentsLoaded = null; }); // tried again at the next opening
    return this.intentsLoaded;
  }

  open(conversationId, items) {
    this._show({ conversationId, ...draftRecord(items) }, this.intro, this.onSaved);
  }

  /** A record to finish, e.g. the answer to a knowledge gap (the conversation is where it was asked). */
  openDraft({ request, resolution = "", conversationId, intro = "", onSaved = this.onSaved }) {
    this._show({ conversationId, request, resolution }, intro || this.intro, onSaved);
    if (!resolution) this.$("#save-resolution").focus(); // the answer is what is missing
  }

  _show({ conversationId, request, resolution }, intro, onSaved) {
    this.conversationId = conversationId;
    this.notify = onSaved;
    this.$("#save-intro").textContent = intro;
    this.$("#save-request").value = request;
    this.$("#save-resolution").value = resolution;
    this.$("#save-intent").value = "";
    this._loadIntents();
    this.$("#save-error").hidden = true;
    this.dialog.showModal();
  }

  async _submit(event) {
    if (event.submitter?.value !== "save") return; // "Not now" closes the dialog
    event.preventDefault();
    const request = this.$("#save-request").value.trim();
    const resolution = this.$("#save-resolution").value.trim();
    const intent = this.$("#save-intent").value;
    if (!request || !resolution) return this._error("Both the request and the resolution are needed.");
    this.$("#save-record").disabled = true;
    try {
      const saved = await this.api.saveRecord({ conversationId: this.conversationId, request, resolution, intent });
      this.dialog.close("saved");
      this.notify(saved);
    } catch (err) {
      this._error(`Not saved: ${err.message}`);
    } finally {
      this.$("#save-record").disabled = false;
    }
  }

  _error(text) {
    const p = this.$("#save-error");
    p.textContent = text;
    p.hidden = false;
  }
}
