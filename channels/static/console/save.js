// "Save to the knowledge base" after an agent closes a conversation they resolved:
// the customer's request and the resolution, prefilled from the history and
// editable, become a new historical record (the server redacts personal data).
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
    $("#save-form").addEventListener("submit", (e) => this._submit(e));
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
    this.$("#save-error").hidden = true;
    this.dialog.showModal();
  }

  async _submit(event) {
    if (event.submitter?.value !== "save") return; // "Not now" closes the dialog
    event.preventDefault();
    const request = this.$("#save-request").value.trim();
    const resolution = this.$("#save-resolution").value.trim();
    if (!request || !resolution) return this._error("Both the request and the resolution are needed.");
    this.$("#save-record").disabled = true;
    try {
      const saved = await this.api.saveRecord({ conversationId: this.conversationId, request, resolution });
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
