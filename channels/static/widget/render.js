// Safe rendering of model and record text. Text is never parsed as HTML: a tiny
// markdown subset (paragraphs, "-"/"1." lists, **bold**, `code`, http(s) links) is
// turned into a tree of plain nodes, and the tree into DOM with createElement and
// text nodes only. Whatever "<script>" or "<img onerror>" a model writes stays text.

const INLINE = /(\*\*[^*\n]+\*\*|`[^`\n]+`|https?:\/\/[^\s<>"')\]]+)/g;

/** Inline nodes of one line: strings, {tag:"strong"|"code", text}, {tag:"a", href, text}. */
export function parseInline(line) {
  const out = [];
  let last = 0;
  for (const match of line.matchAll(INLINE)) {
    if (match.index > last) out.push(line.slice(last, match.index));
    const token = match[0];
    if (token.startsWith("**")) out.push({ tag: "strong", text: token.slice(2, -2) });
    else if (token.startsWith("`")) out.push({ tag: "code", text: token.slice(1, -1) });
    else {
      const href = token.replace(/[.,;:!?]+$/, ""); // a sentence's full stop is not part of a URL
      out.push({ tag: "a", href, text: href });
      if (href.length < token.length) out.push(token.slice(href.length));
    }
    last = match.index + token.length;
  }
  if (last < line.length) out.push(line.slice(last));
  return out;
}

const BULLET = /^\s*[-*•]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;

/** Blocks of a text: {tag:"p", lines:[inline[]]} or {tag:"ul"|"ol", items:[inline[]]}. */
export function parseBlocks(text) {
  const blocks = [];
  let current = null;
  for (const raw of String(text ?? "").split(/\r?\n/)) {
    const bullet = raw.match(BULLET);
    const numbered = bullet ? null : raw.match(NUMBERED);
    const item = bullet || numbered;
    if (item) {
      const tag = bullet ? "ul" : "ol";
      if (!current || current.tag !== tag) blocks.push((current = { tag, items: [] }));
      current.items.push(parseInline(item[1]));
    } else if (!raw.trim()) {
      current = null;
    } else {
      if (!current || current.tag !== "p") blocks.push((current = { tag: "p", lines: [] }));
      current.lines.push(parseInline(raw));
    }
  }
  return blocks;
}

function inlineToDom(doc, parent, nodes) {
  for (const node of nodes) {
    if (typeof node === "string") {
      parent.appendChild(doc.createTextNode(node));
      continue;
    }
    const el = doc.createElement(node.tag);
    el.textContent = node.text;
    if (node.tag === "a") {
      el.setAttribute("href", node.href);
      el.setAttribute("target", "_blank");
      el.setAttribute("rel", "noopener noreferrer nofollow");
    }
    parent.appendChild(el);
  }
}

/** A DocumentFragment holding `text` rendered safely. */
export function renderText(doc, text) {
  const fragment = doc.createDocumentFragment();
  for (const block of parseBlocks(text)) {
    const el = doc.createElement(block.tag);
    if (block.tag === "p") {
      block.lines.forEach((line, i) => {
        if (i) el.appendChild(doc.createElement("br"));
        inlineToDom(doc, el, line);
      });
    } else {
      for (const item of block.items) {
        const li = doc.createElement("li");
        inlineToDom(doc, li, item);
        el.appendChild(li);
      }
    }
    fragment.appendChild(el);
  }
  return fragment;
}

/** Replace the children of `el` with `text` rendered safely. */
export function setRichText(el, text) {
  el.replaceChildren(renderText(el.ownerDocument, text));
}

/** "3 min", "1 h 5 min": how long someone has waited. */
export function formatWait(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "0:07": a recording's length. */
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
