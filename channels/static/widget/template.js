// The widget's fixed markup. It holds no customer, model or config text: titles and
// messages are set later with textContent, so this static string is the only HTML.

const icon = (path) =>
  `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"
    stroke-linejoin="round" aria-hidden="true" focusable="false">${path}</svg>`;

export const ICONS = {
  chat: icon('<path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/>'),
  close: icon('<path d="M18 6 6 18M6 6l12 12"/>'),
  clip: icon('<path d="m21.4 11.1-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5"/>'),
  mic: icon('<rect x="9" y="2" width="6" height="12" rx="3"/><path d="M5 10a7 7 0 0 0 14 0M12 19v3"/>'),
  send: icon('<path d="m22 2-7 20-4-9-9-4z"/><path d="M22 2 11 13"/>'),
  up: icon('<path d="M7 10v12M15 5.9 14 10h5.8a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.4 22H7V10l4-8a3 3 0 0 1 4 3.9z"/>'),
  down: icon('<path d="M17 14V2M9 18.1 10 14H4.2a2 2 0 0 1-2-2.3l1.4-8A2 2 0 0 1 5.6 2H17v12l-4 8a3 3 0 0 1-4-3.9z"/>'),
  image: icon('<rect x="3" y="3" width="18" height="18" rx="2"/><circle cx="9" cy="9" r="2"/><path d="m21 15-5-5L5 21"/>'),
};

/** A fresh node of one of the fixed icons above (never built from message text). */
export function iconNode(doc, name) {
  const t = doc.createElement("template");
  t.innerHTML = ICONS[name];
  return t.content.firstElementChild;
}

export const TEMPLATE = `
<button class="launcher" type="button" aria-expanded="false" aria-controls="panel">
  ${ICONS.chat}<span class="sr-only launcher-label">Open chat</span>
</button>
<section class="panel" id="panel" role="dialog" aria-modal="false" aria-labelledby="title" hidden>
  <header>
    <h2 id="title"></h2>
    <span class="conn" role="status"></span>
    <button class="icon close" type="button" aria-label="Close chat">${ICONS.close}</button>
  </header>
  <div class="banner" data-state="bot">
    <span class="state-text" aria-live="polite"></span><span class="spacer"></span>
    <button class="link restart" type="button" hidden>Start a new conversation</button>
  </div>
  <ol class="log" role="log" aria-live="polite" aria-relevant="additions text" aria-label="Conversation"
    tabindex="0"></ol>
  <div class="typing" aria-live="polite" hidden></div>
  <div class="previews" aria-label="Attachments to send" hidden></div>
  <div class="recording" role="group" aria-label="Recording a voice note" hidden>
    <span class="dot" aria-hidden="true"></span>
    <span>Recording <span class="clock" role="timer" aria-live="off">0:00</span></span>
    <span class="spacer"></span>
    <button class="pill cancel-rec" type="button">Cancel</button>
    <button class="pill stop-rec" type="button">Send voice note</button>
  </div>
  <form class="composer">
    <label class="sr-only" for="input">Your message</label>
    <textarea id="input" rows="1" placeholder="Type your question…" autocomplete="off"></textarea>
    <input class="file" type="file" accept="image/*" multiple hidden>
    <button class="icon attach" type="button" aria-label="Attach an image">${ICONS.clip}</button>
    <button class="icon mic" type="button" aria-label="Record a voice note">${ICONS.mic}</button>
    <button class="icon send" type="submit" aria-label="Send">${ICONS.send}</button>
  </form>
  <div class="footer"><button class="handoff" type="button">Talk to a person</button></div>
</section>
`;
