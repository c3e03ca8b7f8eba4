// When to tell the other side "typing…", for the widget and the agents' console alike.
// The first keystroke of a burst is signalled at once, then at most one signal every
// `every` ms while the typing goes on. Sending a message ends the burst (the other side
// hides its indicator when the message arrives), so the next keystroke is signalled at
// once again: a signal sent for the previous message must not silence the next one.

export class TypingSignal {
  /** @param {() => boolean} send  sends one "typing" frame; false when it could not (offline) */
  constructor(send, { every = 2500, now = Date.now } = {}) {
    this.send = send;
    this.every = every;
    this.now = now;
    this.sentAt = -Infinity;
  }

  /** A keystroke: signal it unless a signal of this burst went out less than `every` ms ago. */
  input() {
    const now = this.now();
    if (now - this.sentAt < this.every) return false;
    if (!this.send()) return false; // offline: the next keystroke tries again
    this.sentAt = now;
    return true;
  }

  /** The message was sent: the burst is over. */
  reset() {
    this.sentAt = -Infinity;
  }
}
