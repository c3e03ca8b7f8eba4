// What the customer is about to send: images chosen or pasted (with previews and a
// remove button), and a voice note being recorded (clock, cancel, send).

import { formatClock } from "./render.js";
import { recordingSupported, VoiceRecorder } from "./recorder.js";

export class Attachments {
  /** @param {HTMLElement} box  the previews container */
  constructor(box, { max = 4, onChange = () => {} } = {}) {
    this.box = box;
    this.max = max;
    this.onChange = onChange;
    this.files = []; // {file, url}
  }

  add(files) {
    for (const file of files) {
      if (!file.type.startsWith("image/") || this.files.length >= this.max) continue;
      this.files.push({ file, url: URL.createObjectURL(file) });
    }
    this._draw();
  }

  remove(index) {
    const [gone] = this.files.splice(index, 1);
    if (gone) URL.revokeObjectURL(gone.url);
    this._draw();
  }

  /** Hand the files over for sending; their preview URLs now belong to the caller. */
  take() {
    const taken = this.files;
    this.files = [];
    this._draw();
    return taken;
  }

  _draw() {
    const doc = this.box.ownerDocument;
    this.box.replaceChildren();
    this.files.forEach(({ file, url }, i) => {
      const wrap = doc.createElement("div");
      wrap.className = "preview";
      const img = doc.createElement("img");
      img.src = url;
      img.alt = `Preview of ${file.name || "pasted image"}`;
      const remove = doc.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove ${file.name || "pasted image"}`);
      remove.addEventListener("click", () => this.remove(i));
      wrap.append(img, remove);
      this.box.appendChild(wrap);
    });
    this.box.hidden = this.files.length === 0;
    this.onChange(this.files.length);
  }
}

/** The recording bar: shows the clock while recording; resolves a Blob or null. */
export class RecordingBar {
  constructor(bar, { maxSeconds = 120, onError = () => {} } = {}) {
    this.bar = bar;
    this.clock = bar.querySelector(".clock");
    this.onError = onError;
    this.recorder = new VoiceRecorder({
      maxSeconds,
      onTick: (s) => (this.clock.textContent = formatClock(s)),
      onLimit: () => this.finish(),
    });
    this._resolve = null;
    bar.querySelector(".cancel-rec").addEventListener("click", () => this.cancel());
    bar.querySelector(".stop-rec").addEventListener("click", () => this.finish());
  }

  get supported() {
    return recordingSupported();
  }

  get active() {
    return !!this._resolve;
  }

  /** Record until the customer sends or cancels; null when cancelled or refused. */
  async record() {
    try {
      await this.recorder.start();
    } catch (err) {
      this.onError(err?.name === "NotAllowedError"
        ? "The microphone is blocked. Allow it in the browser to send voice notes."
        : "No microphone could be used for a voice note.");
      return null;
    }
    this.clock.textContent = "0:00";
    this.bar.hidden = false;
    this.bar.querySelector(".stop-rec").focus();
    return new Promise((resolve) => (this._resolve = resolve));
  }

  async finish() {
    if (!this._resolve) return;
    const blob = await this.recorder.stop();
    this._done(blob);
  }

  cancel() {
    if (!this._resolve) return;
    this.recorder.cancel();
    this._done(null);
  }

  _done(value) {
    this.bar.hidden = true;
    const resolve = this._resolve;
    this._resolve = null;
    resolve(value);
  }
}

/** POST one file to the server's uploads; resolves {id, content_type} or throws an Error with a code. */
export async function upload(server, blob, filename, { conversationId, resumeToken }) {
  const form = new FormData();
  form.append("conversation_id", conversationId);
  form.append("file", blob, filename);
  // The conversation in the query too: the server checks the resume token before it reads the file.
  const url = new URL("/api/uploads", server);
  url.searchParams.set("conversation_id", conversationId);
  const response = await fetch(url, {
    method: "POST", body: form, headers: { "X-Resume-Token": resumeToken },
  }).catch(() => null);
  if (!response) throw Object.assign(new Error("The upload failed: you seem to be offline."), { code: "offline" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(body.message || `The upload failed (${response.status}).`),
      { code: body.code || "upload_failed" });
  }
  return body;
}

/** GET an upload back (it needs the resume token, which an <img src> cannot send). */
export async function download(server, id, resumeToken) {
  const response = await fetch(new URL(`/api/uploads/${encodeURIComponent(id)}`, server), {
    headers: { "X-Resume-Token": resumeToken },
  });
  if (!response.ok) throw new Error(`upload ${id}: ${response.status}`);
  const blob = await response.blob();
  return { kind: blob.type.startsWith("audio/") ? "audio" : "image", url: URL.createObjectURL(blob) };
}
