// Voice notes through MediaRecorder: start, a ticking clock, cancel, or stop and
// get the recording as a Blob (webm/opus where the browser can, which the server
// decodes without ffmpeg).

const TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

export function recordingSupported() {
  return !!(globalThis.MediaRecorder && navigator.mediaDevices?.getUserMedia);
}

export class VoiceRecorder {
  /** @param {{onTick?: (seconds: number) => void, maxSeconds?: number, onLimit?: () => void}} options */
  constructor({ onTick = () => {}, maxSeconds = 120, onLimit = () => {} } = {}) {
    this.onTick = onTick;
    this.maxSeconds = maxSeconds;
    this.onLimit = onLimit;
    this.recorder = null;
    this.stream = null;
    this.chunks = [];
    this.startedAt = 0;
    this._timer = null;
  }

  get seconds() {
    return this.startedAt ? (Date.now() - this.startedAt) / 1000 : 0;
  }

  /** Ask for the microphone and start recording; rejects when it is refused. */
  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const mimeType = TYPES.find((t) => MediaRecorder.isTypeSupported?.(t)) || "";
    this.recorder = new MediaRecorder(this.stream, mimeType ? { mimeType } : undefined);
    this.chunks = [];
    this.recorder.ondataavailable = (e) => e.data.size && this.chunks.push(e.data);
    this.recorder.start(250); // small slices: a stop never waits for one long chunk
    this.startedAt = Date.now();
    this._timer = setInterval(() => {
      this.onTick(this.seconds);
      if (this.seconds >= this.maxSeconds) this.onLimit();
    }, 250);
  }

  /** Stop and return the recording (null when nothing was recorded). */
  stop() {
    return new Promise((resolve) => {
      if (!this.recorder || this.recorder.state === "inactive") return resolve(null);
      const type = this.recorder.mimeType || "audio/webm";
      this.recorder.onstop = () => {
        const blob = this.chunks.length ? new Blob(this.chunks, { type: type.split(";")[0] }) : null;
        this._release();
        resolve(blob);
      };
      this.recorder.stop();
    });
  }

  /** Throw the recording away. */
  cancel() {
    if (this.recorder && this.recorder.state !== "inactive") {
      this.recorder.onstop = null;
      this.recorder.stop();
    }
    this._release();
  }

  _release() {
    clearInterval(this._timer);
    this.stream?.getTracks().forEach((t) => t.stop()); // turns the browser's mic indicator off
    this.stream = null;
    this.recorder = null;
    this.chunks = [];
    this.startedAt = 0;
  }
}
