// "Save to the knowledge base" after an agent closes a conversation they resolved:
// the customer's request and the resolution, prefilled from the history and
// editable, become a new historical record (the server redacts personal data).

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
    $("#save-form").addEventListener("submit", (e) => this._submit(e));
  }

  open(conversationId, items) {
    const { request, resolution } = draftRecord(items);
    this.conversationId = conversationId;
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
      this.onSaved(saved);
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
