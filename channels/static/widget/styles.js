// The widget's stylesheet. It lives in the shadow root, so the host page's CSS
// cannot reach in and ours cannot leak out; `--accent` comes from data-color.

export const CSS = `
:host { all: initial; --accent: #2563eb; --accent-text: #fff; --radius: 14px;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
button { font: inherit; cursor: pointer; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }

.launcher { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; width: 60px; height: 60px;
  border-radius: 50%; border: 0; background: var(--accent); color: var(--accent-text);
  box-shadow: 0 6px 20px rgba(0,0,0,.25); display: grid; place-items: center; }
.launcher svg { width: 28px; height: 28px; }
:host([data-position="left"]) .launcher, :host([data-position="left"]) .panel { right: auto; left: 20px; }

.panel { position: fixed; bottom: 92px; right: 20px; z-index: 2147483001; width: 380px;
  height: min(640px, calc(100vh - 120px)); display: flex; flex-direction: column; background: #fff;
  border-radius: var(--radius); box-shadow: 0 12px 40px rgba(0,0,0,.28); overflow: hidden; }
header { background: var(--accent); color: var(--accent-text); padding: 12px 14px; display: flex;
  align-items: center; gap: 8px; }
header h2 { font-size: 16px; margin: 0; flex: 1; font-weight: 600; }
.conn { font-size: 12px; opacity: .9; }
.icon { background: transparent; border: 0; color: inherit; width: 36px; height: 36px; border-radius: 8px;
  display: grid; place-items: center; padding: 0; }
.icon:hover { background: rgba(0,0,0,.08); }
.icon svg { width: 20px; height: 20px; }
.banner { font-size: 13px; padding: 6px 14px; background: #f3f4f6; color: #374151;
  border-bottom: 1px solid #e5e7eb; display: flex; gap: 8px; align-items: center; }
.banner[data-state="waiting_human"] { background: #fef3c7; color: #78350f; }
.banner[data-state="human"] { background: #dcfce7; color: #14532d; }
.banner[data-state="closed"] { background: #e5e7eb; color: #374151; }
.banner .spacer { flex: 1; }
.link { background: none; border: 0; color: inherit; text-decoration: underline; padding: 0; font-size: 13px; }

.log { list-style: none; margin: 0; padding: 12px; flex: 1; overflow-y: auto; display: flex;
  flex-direction: column; gap: 10px; background: #fafafa; }
.msg { max-width: 85%; padding: 8px 12px; border-radius: var(--radius); word-wrap: break-word;
  overflow-wrap: anywhere; }
.msg p { margin: 0 0 6px; } .msg p:last-child { margin-bottom: 0; }
.msg ol, .msg ul { margin: 4px 0; padding-left: 20px; }
.msg code { background: rgba(0,0,0,.06); padding: 0 3px; border-radius: 4px; }
.msg a { color: inherit; }
.user { align-self: flex-end; background: var(--accent); color: var(--accent-text);
  border-bottom-right-radius: 4px; }
.user.pending { opacity: .65; }
.bot, .agent { align-self: flex-start; background: #fff; border: 1px solid #e5e7eb;
  border-bottom-left-radius: 4px; }
.agent { border-color: #86efac; background: #f0fdf4; }
.who { display: block; font-size: 12px; font-weight: 600; color: #166534; margin-bottom: 2px; }
.system { align-self: center; font-size: 12px; color: #6b7280; text-align: center; }
.error { align-self: center; font-size: 13px; color: #b91c1c; background: #fee2e2; padding: 4px 10px;
  border-radius: 8px; }
.streaming .body::after { content: "▍"; animation: blink 1s steps(1) infinite; }
@keyframes blink { 50% { opacity: 0; } }
.status { font-size: 12px; opacity: .8; display: block; margin-top: 2px; }
.retry { display: block; margin-top: 6px; min-height: 32px; padding: 4px 12px; border-radius: 8px;
  border: 1px solid var(--accent); background: #fff; color: var(--accent); }
.options { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.option { min-height: 36px; padding: 6px 12px; border-radius: 18px; border: 1px solid var(--accent);
  background: #fff; color: var(--accent); font: inherit; text-align: left; cursor: pointer; }
.option:hover, .option:focus-visible { background: var(--accent); color: #fff; }
.thumbs { display: flex; gap: 4px; margin-top: 6px; }
.thumbs button { border: 1px solid #d1d5db; background: #fff; border-radius: 8px; padding: 4px 8px;
  color: #4b5563; min-height: 30px; }
.thumbs button[aria-pressed="true"] { background: #dbeafe; border-color: var(--accent); color: var(--accent); }
.thumbs svg { width: 16px; height: 16px; display: block; }
.voice { display: inline-flex; align-items: center; gap: 4px; }
.voice svg { width: 16px; height: 16px; }
details.sources { margin-top: 6px; font-size: 12px; color: #4b5563; }
details.sources summary { cursor: pointer; }
details.sources ul { margin: 4px 0 0; padding-left: 16px; }
.thumb { display: block; max-width: 180px; max-height: 140px; border-radius: 8px; margin-top: 4px; }
.voice, .transcript { font-size: 13px; }
.transcript { display: block; font-style: italic; margin-top: 4px; }

.typing { font-size: 12px; color: #6b7280; padding: 0 14px 4px; }
.previews { display: flex; gap: 8px; padding: 6px 12px 0; flex-wrap: wrap; }
.preview { position: relative; }
.preview img { width: 64px; height: 64px; object-fit: cover; border-radius: 8px; border: 1px solid #d1d5db; }
.preview button { position: absolute; top: -6px; right: -6px; width: 24px; height: 24px; border-radius: 50%;
  border: 0; background: #111827; color: #fff; font-size: 14px; line-height: 1; padding: 0; }
.recording { display: flex; align-items: center; gap: 8px; padding: 8px 12px; background: #fef2f2;
  color: #991b1b; font-size: 14px; }
.recording .dot { width: 10px; height: 10px; background: #dc2626; border-radius: 50%;
  animation: blink 1s steps(1) infinite; }
.recording .spacer { flex: 1; }
.pill { border: 1px solid currentColor; background: #fff; color: inherit; border-radius: 999px;
  padding: 4px 12px; font-size: 13px; }
form { display: flex; align-items: flex-end; gap: 4px; padding: 8px; border-top: 1px solid #e5e7eb; }
textarea { flex: 1; resize: none; font: inherit; border: 1px solid #d1d5db; border-radius: 10px;
  padding: 8px 10px; max-height: 120px; min-height: 40px; color: #111827; background: #fff; }
form .icon { color: #4b5563; width: 40px; height: 40px; }
form .send { color: var(--accent); }
.footer { display: flex; justify-content: center; padding: 0 8px 8px; }
.handoff { border: 1px solid #d1d5db; background: #fff; border-radius: 999px; padding: 6px 14px;
  font-size: 13px; color: #374151; }

@media (max-width: 480px) {
  .panel { inset: 0; width: 100vw; height: 100%; max-height: none; border-radius: 0; bottom: 0; right: 0; }
  :host([data-position="left"]) .panel { left: 0; }
  .msg { max-width: 92%; }
}
@media (prefers-reduced-motion: reduce) {
  .streaming .body::after, .recording .dot { animation: none; }
}
`;
