// Safe rendering: model text is never HTML. Run with `node --test tests/js/`.
import assert from "node:assert/strict";
import test from "node:test";

import { formatClock, formatWait, parseBlocks, parseInline, renderText } from "../../channels/static/widget/render.js";

test("markup in model text stays text", () => {
  const blocks = parseBlocks('<img src=x onerror="alert(1)"> <script>alert(2)</script>');
  assert.deepEqual(blocks, [{ tag: "p", lines: [['<img src=x onerror="alert(1)"> <script>alert(2)</script>']] }]);
});

test("the markdown subset: bold, code, links, lists", () => {
  assert.deepEqual(parseInline("Go to **Orders** and run `track` at https://shop.test/orders."), [
    "Go to ", { tag: "strong", text: "Orders" }, " and run ", { tag: "code", text: "track" }, " at ",
    { tag: "a", href: "https://shop.test/orders", text: "https://shop.test/orders" }, ".",
  ]);
  const blocks = parseBlocks("Steps:\n1. Sign in\n2. Open **Orders**\n\n- done");
  assert.deepEqual(blocks.map((b) => b.tag), ["p", "ol", "ul"]);
  assert.equal(blocks[1].items.length, 2);
});

test("javascript: links are not links", () => {
  assert.deepEqual(parseInline("javascript:alert(1)"), ["javascript:alert(1)"]);
});

// A document that records what is built, to prove only elements and text nodes are made.
class FakeNode {
  constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this._text = ""; }
  appendChild(c) { this.children.push(c); return c; }
  setAttribute(k, v) { this.attrs[k] = v; }
  set textContent(t) { this._text = t; }
  set innerHTML(_) { throw new Error("innerHTML used"); }
  get text() { return this._text + this.children.map((c) => c.text).join(""); }
}
const fakeDoc = {
  created: [],
  createElement(tag) { const n = new FakeNode(tag); this.created.push(tag); return n; },
  createTextNode(t) { const n = new FakeNode("#text"); n._text = t; return n; },
  createDocumentFragment() { return new FakeNode("#fragment"); },
};

test("rendering builds elements from a fixed list and keeps every character", () => {
  const text = "Hi <b>there</b>\n- **a** https://x.test";
  const fragment = renderText(fakeDoc, text);
  assert.ok(fakeDoc.created.every((t) => ["p", "br", "ul", "ol", "li", "strong", "code", "a"].includes(t)));
  assert.equal(fragment.text, "Hi <b>there</b>a https://x.test");
  const link = fragment.children[1].children[0].children[2];
  assert.equal(link.attrs.rel, "noopener noreferrer nofollow");
});

test("clocks and waiting times read naturally", () => {
  assert.equal(formatClock(7.9), "0:07");
  assert.equal(formatClock(75), "1:15");
  assert.equal(formatWait(42), "42 s");
  assert.equal(formatWait(185), "3 min");
  assert.equal(formatWait(3900), "1 h 5 min");
});
