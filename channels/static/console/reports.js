// The Reports tab: headline figures, daily charts (inline SVG drawn here, no library)
// and the knowledge gaps of GET /api/reports, for the last N days and one or all of
// the agent's inboxes. A gap's "Write the answer" opens the save dialog as a draft.
// Below them, what the assistant learned from the conversations (GET /api/kb/learned),
// each lesson with a "Forget" button (DELETE /api/kb/learned/{id}), and "Learn from the
// conversations now" (POST /api/kb/learn), what `assistant kb learn` does on a schedule.

import { call } from "./api.js";
import { reasonText } from "./inbox.js";

const SVG = "http://www.w3.org/2000/svg";
// Okabe–Ito: told apart with the common colour blindnesses too.
const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#6b7280", "#f0e442"];
const W = 360, H = 180, PAD = { left: 34, right: 6, top: 10, bottom: 22 }; // viewBox units
const GAP_REASONS = { unsure: "unsure", rated_down: "rated down", low_confidence: "low confidence" };

// -- formatting ---------------------------------------------------------------------

/** 0.5 -> "50%"; null (no data) stays null. */
export function percent(rate) {
  return rate == null ? null : `${Math.round(rate * 100)}%`;
}

/** Seconds as people say them: "0.8 s", "45 s", "5 min", "2.5 h", "3 d"; null stays null. */
export function duration(s) {
  if (s == null) return null;
  if (s > 0 && s < 0.05) return "< 0.1 s";
  if (s < 9.95) return `${s.toFixed(1)} s`;
  if (Math.round(s) < 60) return `${Math.round(s)} s`;
  if (Math.round(s / 60) < 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${+(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** {unsure: 2, rated_down: 1, low_confidence: 0} -> "unsure 2 · rated down 1". */
export function gapReasons(reasons) {
  return Object.entries(reasons || {}).filter(([, n]) => n > 0)
    .map(([key, n]) => `${GAP_REASONS[key] || key.replaceAll("_", " ")} ${n}`).join(" · ");
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const sum = (obj) => Object.values(obj || {}).reduce((a, b) => a + b, 0);
const shortDay = (day) => new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined,
  { day: "numeric", month: "short", timeZone: "UTC" });
const when = (seconds) => new Date(seconds * 1000).toLocaleString(undefined,
  { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

function el(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- headline figures ---------------------------------------------------------------

const csat = (c) => [percent(c?.rate), `${c?.up ?? 0} up · ${c?.down ?? 0} down`];
const timing = (p) => [duration(p?.p50), `p90 ${duration(p?.p90) ?? "—"} · ${plural(p?.n ?? 0, "conversation")}`];

/** [key, label, totals -> [value or null, detail]] for each card. */
const CARDS = [
  ["conversations", "Conversations", ({ conversations, outcomes: o = {} }) => [String(conversations ?? 0),
    `${(o.resolved_by_assistant ?? 0) + (o.resolved_by_agent ?? 0)} resolved · ${o.open ?? 0} open`]],
  ["resolution_rate", "Assistant resolution rate", (t) => [percent(t.resolution_rate),
    `${t.outcomes?.resolved_by_assistant ?? 0} resolved by the assistant`]],
  ["handoff_rate", "Handoff rate", (t) => [percent(t.handoff_rate), plural(sum(t.handoffs_by_reason), "handoff")]],
  ["csat_assistant", "CSAT assistant", (t) => csat(t.csat?.assistant)],
  ["csat_agent", "CSAT agents", (t) => csat(t.csat?.agent)],
  ["first_answer", "Time to first answer (p50)", (t) => timing(t.first_answer_s)],
  ["first_agent_reply", "Time to first agent reply (p50)", (t) => timing(t.first_agent_reply_s)],
  ["voice_share", "Voice share", (t) => [percent(t.voice_share), "of customer messages were voice notes"]],
  ["image_share", "Image share", (t) => [percent(t.image_share), "of customer messages had an image"]],
  ["unsure_rate", "Unsure rate", (t) => [percent(t.unsure_rate), "of the assistant's answers were unsure"]],
];

function drawCards(list, totals) {
  const doc = list.ownerDocument;
  list.replaceChildren(...CARDS.map(([key, label, figures]) => {
    const [value, detail] = figures(totals);
    const card = el(doc, "div", "figure");
    card.dataset.figure = key;
    card.append(el(doc, "dt", "", label));
    const dd = card.appendChild(el(doc, "dd", "value", value ?? undefined));
    if (value == null) {
      dd.append(el(doc, "span", "", "—"), el(doc, "span", "sr-only", "no data"));
      dd.firstChild.setAttribute("aria-hidden", "true");
    }
    if (detail) card.append(el(doc, "dd", "detail", detail));
    return card;
  }));
}

// -- charts -------------------------------------------------------------------------

function svgEl(doc, tag, attrs = {}, text) {
  const node = doc.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The smallest of 1, 2, 5 × 10^k at or above v (at least 1). */
function niceTop(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((t) => t >= v);
}

let chartIds = 0;

/**
 * A figure: the SVG (its <title> and a one-line <desc>), a legend, and a visually hidden
 * table of the days with data. series: [{label, color, value: (day) -> number|null, dash?, note?}].
 */
function chart(doc, { title, summary, days, series, kind, rate = false, legend = series.length > 1 }) {
  const id = `chart-${++chartIds}`;
  const figure = el(doc, "figure", `chart ${kind}`);
  figure.append(el(doc, "figcaption", "", title));
  const svg = figure.appendChild(svgEl(doc, "svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-labelledby": `${id}-t ${id}-d`, preserveAspectRatio: "xMidYMid meet" }));
  svg.append(svgEl(doc, "title", { id: `${id}-t` }, title), svgEl(doc, "desc", { id: `${id}-d` }, summary));
  const stacked = days.map((d) => series.reduce((a, s) => a + (s.value(d) || 0), 0));
  const top = rate ? 1 : niceTop(Math.max(0, ...stacked));
  const y = (v) => PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);
  const step = (W - PAD.left - PAD.right) / Math.max(1, days.length);
  const x = (i) => PAD.left + (i + 0.5) * step;
  const ticks = rate ? [0, 0.5, 1] : top % 2 ? [0, top] : [0, top / 2, top];
  for (const v of ticks) {
    svg.append(svgEl(doc, "line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      svgEl(doc, "text", { x: PAD.left - 4, y: y(v) + 3.5, "text-anchor": "end" }, rate ? percent(v) : v));
  }
  const labelled = days.length ? [...new Set([0, Math.floor((days.length - 1) / 2), days.length - 1])] : [];
  for (const i of labelled) {
    const anchor = i === 0 ? "start" : i === days.length - 1 ? "end" : "middle";
    const at = anchor === "start" ? PAD.left : anchor === "end" ? W - PAD.right : x(i);
    svg.append(svgEl(doc, "text", { x: at, y: H - 6, "text-anchor": anchor }, shortDay(days[i].day)));
  }
  (kind === "bars" ? drawBars : drawLines)(doc, svg, { days, series, x, y, step });
  const shows = (d) => series.some((s) => (rate ? s.value(d) != null : s.value(d) > 0));
  if (!days.some(shows)) figure.append(el(doc, "p", "chart-empty", "No data in this period."));
  if (legend) figure.append(legendList(doc, series));
  figure.append(dataTable(doc, title, days.filter(shows), series, rate));
  return figure;
}

function drawBars(doc, svg, { days, series, x, y, step }) {
  const width = Math.max(1, step * 0.72);
  days.forEach((d, i) => {
    let base = 0;
    for (const s of series) {
      const v = s.value(d) || 0;
      if (!v) continue;
      const bar = svg.appendChild(svgEl(doc, "rect", { x: (x(i) - width / 2).toFixed(1), y: y(base + v).toFixed(1),
        width: width.toFixed(1), height: (y(base) - y(base + v)).toFixed(1), fill: s.color }));
      bar.append(svgEl(doc, "title", {}, `${d.day}: ${s.label} ${v}`));
      base += v;
    }
  });
}

function drawLines(doc, svg, { days, series, x, y }) {
  for (const s of series) {
    let path = "";
    let pen = "M"; // a day without data breaks the line
    days.forEach((d, i) => {
      const v = s.value(d);
      if (v == null) {
        pen = "M";
        return;
      }
      path += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = "L";
      const dot = svg.appendChild(svgEl(doc, "circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1),
        r: days.length > 31 ? 1.8 : 2.6, fill: s.color }));
      dot.append(svgEl(doc, "title", {}, `${d.day}: ${s.label} ${percent(v)}`));
    });
    if (path) {
      svg.insertBefore(svgEl(doc, "path", { d: path.trim(), fill: "none", stroke: s.color, "stroke-width": 2,
        "stroke-dasharray": s.dash || "none", "stroke-linejoin": "round" }), svg.querySelector("circle"));
    }
  }
}

function legendList(doc, series) {
  const ul = el(doc, "ul", "legend");
  for (const s of series) {
    const li = ul.appendChild(el(doc, "li"));
    const swatch = li.appendChild(el(doc, "span", `swatch${s.dash ? " dashed" : ""}`));
    swatch.style.setProperty("--swatch", s.color);
    swatch.setAttribute("aria-hidden", "true");
    li.append(s.label);
    if (s.note) li.append(" ", el(doc, "span", "note", s.note));
  }
  return ul;
}

function dataTable(doc, title, rows, series, rate) {
  const box = el(doc, "div", "sr-only"); // a 1 px box: a table itself may not shrink to it
  const table = box.appendChild(el(doc, "table"));
  table.append(el(doc, "caption", "", `${title}: the days with data${rows.length ? "" : " (none)"}`));
  const head = table.appendChild(el(doc, "thead")).appendChild(el(doc, "tr"));
  for (const name of ["Day", ...series.map((s) => s.label)]) head.append(el(doc, "th", "", name));
  const body = table.appendChild(el(doc, "tbody"));
  for (const d of rows) {
    const tr = body.appendChild(el(doc, "tr"));
    tr.append(el(doc, "th", "", d.day));
    for (const s of series) {
      const v = s.value(d);
      tr.append(el(doc, "td", "", rate ? percent(v) ?? "no data" : String(v || 0)));
    }
  }
  return box;
}

/** The four charts of a report. */
function drawCharts(root, { days, totals }) {
  const doc = root.ownerDocument;
  const busiest = days.reduce((a, d) => ((d.conversations || 0) > (a?.conversations || 0) ? d : a), null);
  const handoffs = totals.handoffs_by_reason || {};
  const reasons = [...new Set([handoffs, ...days.map((d) => d.handoffs_by_reason || {})].flatMap(Object.keys))]
    .sort((a, b) => (handoffs[b] || 0) - (handoffs[a] || 0)); // the most frequent at the bottom of a bar
  const rated = totals.csat || {};
  root.replaceChildren(
    chart(doc, { title: "Conversations per day", kind: "bars", days,
      summary: `${plural(totals.conversations ?? 0, "conversation")} in ${plural(days.length, "day")}` +
        (busiest ? `; the busiest day, ${busiest.day}, had ${busiest.conversations}.` : "."),
      series: [{ label: "Conversations", color: "#1d4ed8", value: (d) => d.conversations }] }),
    chart(doc, { title: "Assistant resolution rate per day", kind: "lines", rate: true, days,
      summary: `Over the period: ${percent(totals.resolution_rate) ?? "no data"}.`,
      series: [{ label: "Resolved by the assistant", color: "#1d4ed8", value: (d) => d.resolution_rate }] }),
    chart(doc, { title: "Handoffs per day, by reason", kind: "bars", legend: true, days,
      summary: `${plural(sum(handoffs), "handoff")}: ${reasons.map((r) => `${r} ${handoffs[r] || 0}`).join(", ")
        || "none"}.`,
      series: reasons.map((r, i) => ({ label: reasonText(r) || r, note: `${r} · ${handoffs[r] || 0}`,
        color: PALETTE[i % PALETTE.length], value: (d) => d.handoffs_by_reason?.[r] || 0 })) }),
    chart(doc, { title: "CSAT per day", kind: "lines", rate: true, days,
      summary: `Over the period: assistant ${percent(rated.assistant?.rate) ?? "no data"}, ` +
        `agents ${percent(rated.agent?.rate) ?? "no data"}.`,
      series: [{ label: "Assistant", color: "#1d4ed8", value: (d) => d.csat?.assistant?.rate },
        { label: "Agents", color: "#059669", dash: "5 3", value: (d) => d.csat?.agent?.rate }] }),
  );
}

// -- knowledge gaps -----------------------------------------------------------------

function gapItem(doc, gap, write) {
  const li = el(doc, "li", "gap");
  const head = li.appendChild(el(doc, "p", "gap-question"));
  const count = head.appendChild(el(doc, "span", "gap-count"));
  count.append(el(doc, "span", "", `${gap.count}×`),
    el(doc, "span", "sr-only", `Asked ${plural(gap.count, "time")}: `));
  count.firstChild.setAttribute("aria-hidden", "true");
  head.append(el(doc, "q", "", gap.question));
  li.append(el(doc, "p", "gap-why", gapReasons(gap.reasons)));
  const examples = (gap.examples || []).slice(0, 3);
  if (examples.length) {
    const ul = li.appendChild(el(doc, "ul", "gap-examples"));
    ul.setAttribute("aria-label", "Examples");
    for (const ex of examples) {
      const item = ul.appendChild(el(doc, "li"));
      const meta = [GAP_REASONS[ex.why] || ex.why, ex.at && when(ex.at)].filter(Boolean).join(", ");
      item.append(el(doc, "q", "", ex.text), " ", el(doc, "span", "meta", meta));
    }
  }
  const button = li.appendChild(el(doc, "button", "primary", "Write the answer"));
  button.type = "button";
  button.setAttribute("aria-label", `Write the answer to “${gap.question}”`);
  button.addEventListener("click", () => write(gap, li));
  return li;
}

/** The conversation of the gap's newest example: the saved record is filed under it. */
export function newestConversation(gap) {
  const examples = (gap.examples || []).filter((e) => e.conversation_id);
  return examples.reduce((a, e) => ((e.at || 0) > (a?.at || 0) ? e : a), examples[0])?.conversation_id || "";
}

// -- lessons ------------------------------------------------------------------------

const SIGNALS = { chose: "chosen when asked", rated: "answer rated up", agent: "reply sent by an agent" };

function lessonItem(doc, lesson, forget) {
  const li = el(doc, "li", "gap lesson");
  li.dataset.lesson = lesson.id;
  const words = li.appendChild(el(doc, "p", "lesson-words"));
  words.append(el(doc, "q", "", lesson.request));
  const day = lesson.created_at ? new Date(lesson.created_at).toLocaleDateString(undefined,
    { day: "numeric", month: "short" }) : "";
  const meta = [`read as ${lesson.label || lesson.intent}`, SIGNALS[lesson.signal] || lesson.signal, day,
    lesson.inbox && `inbox ${lesson.inbox}`].filter(Boolean).join(" · ");
  li.append(el(doc, "p", "lesson-meta", meta));
  const button = li.appendChild(el(doc, "button", "", "Forget"));
  button.type = "button";
  button.setAttribute("aria-label", `Forget “${lesson.request}”`);
  button.addEventListener("click", () => forget(lesson, li, button));
  return li;
}

// -- the tab ------------------------------------------------------------------------

export class Reports {
  /** @param {{root: Element, token: string, saveDialog: SaveDialog, knownInboxes: () => string[],
   *   signOut: (message: string) => void}} deps */
  constructor({ root, token, saveDialog, knownInboxes = () => [], signOut }) {
    this.root = root;
    this.token = token;
    this.saveDialog = saveDialog;
    this.knownInboxes = knownInboxes;
    this.signOut = signOut;
    this.loads = 0; // a newer load makes an older answer stale
    this.inboxes = null; // the filling of the inbox select, once
    this.$ = (sel) => root.querySelector(sel);
    this.$("#reports-days").addEventListener("change", () => this.load());
    this.$("#learn-now").addEventListener("click", () => this.learnNow());
    this.$("#reports-inbox").addEventListener("change", () => this.load());
  }

  /** The tab is shown: fresh figures and lessons every time. */
  show() {
    this.inboxes ??= this._fillInboxes();
    return Promise.all([this.load(), this.loadLessons()]);
  }

  async loadLessons() {
    const list = this.$("#report-lessons");
    const doc = list.ownerDocument;
    try {
      const { lessons = [] } = await call("/api/kb/learned", { token: this.token });
      list.replaceChildren(...lessons.map((l) => lessonItem(doc, l, (lesson, li, button) =>
        this._forget(lesson, li, button))));
      this._lessonsStatus(lessons.length ? `${plural(lessons.length, "lesson")}, newest first.` :
        "Nothing learned yet: learn from the conversations now, or have assistant kb learn run on a schedule.");
    } catch (err) {
      if (err.code === "unauthorized" || err.code === "token_revoked") return this.signOut(err.message);
      this._lessonsStatus(`The lessons could not be loaded: ${err.message}`);
    }
  }

  /** What `assistant kb learn` does, over the conversations of the agent's inboxes; then the list again. */
  async learnNow() {
    const button = this.$("#learn-now");
    button.disabled = true;
    this._lessonsStatus("Reading the conversations…");
    try {
      const done = await call("/api/kb/learn", { method: "POST", token: this.token, json: {} });
      await this.loadLessons();
      this._lessonsStatus(`${plural(done.added, "new lesson")} from ${plural(done.confirmed, "confirmed message")}` +
        (done.left_out ? ` (${done.left_out} left out).` : "."));
    } catch (err) {
      if (err.code === "unauthorized" || err.code === "token_revoked") return this.signOut(err.message);
      this._lessonsStatus(`Nothing learned: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  }

  async _forget(lesson, li, button) {
    button.disabled = true;
    try {
      await call(`/api/kb/learned/${encodeURIComponent(lesson.id)}`, { method: "DELETE", token: this.token });
      li.remove();
      this._lessonsStatus(`Forgotten: “${lesson.request}” is no longer read as ${lesson.label || lesson.intent}, ` +
        "and will not be learned again.");
    } catch (err) {
      if (err.code === "unauthorized" || err.code === "token_revoked") return this.signOut(err.message);
      button.disabled = false;
      this._lessonsStatus(`Not forgotten: ${err.message}`);
    }
  }

  _lessonsStatus(text) {
    this.$("#lessons-status").textContent = text;
  }

  async load() {
    const n = ++this.loads;
    const params = new URLSearchParams({ days: this.$("#reports-days").value });
    if (this.$("#reports-inbox").value) params.set("inbox", this.$("#reports-inbox").value);
    this.root.setAttribute("aria-busy", "true");
    this._status("Loading the report…");
    try {
      const report = await call(`/api/reports?${params}`, { token: this.token });
      if (n !== this.loads) return;
      this.draw(report);
      this._status(rangeText(report.range || {}));
    } catch (err) {
      if (n !== this.loads) return;
      if (err.code === "unauthorized" || err.code === "token_revoked") return this.signOut(err.message);
      this._status(`The report could not be loaded: ${err.message}`);
    } finally {
      if (n === this.loads) this.root.setAttribute("aria-busy", "false");
    }
  }

  draw(report) {
    const totals = report.totals || {};
    drawCards(this.$("#report-cards"), totals);
    drawCharts(this.$("#report-charts"), { days: report.days || [], totals });
    const list = this.$("#report-gaps");
    const doc = list.ownerDocument;
    const gaps = report.gaps || [];
    list.replaceChildren(...gaps.map((gap) => gapItem(doc, gap, (g, li) => this._write(g, li))));
    if (!gaps.length) list.append(el(doc, "li", "none", "No gaps: every question found an answer."));
  }

  _write(gap, li) {
    this.saveDialog.openDraft({
      request: gap.question, resolution: "", conversationId: newestConversation(gap),
      intro: "Write the answer the assistant was missing. Saved to the knowledge base, it answers the next " +
        "customer who asks the same. Personal data is redacted on saving.",
      onSaved: (record) => {
        li.querySelector(".gap-saved")?.remove();
        li.append(el(li.ownerDocument, "p", "gap-saved", `Answer saved${record?.id ? ` as ${record.id}` : ""}.`));
      },
    });
  }

  async _fillInboxes() {
    let mine;
    try {
      mine = (await call("/api/agents/me", { token: this.token })).inboxes || [];
    } catch {
      this.inboxes = null; // "All my inboxes" still works; try again next time the tab opens
      return;
    }
    const names = mine.filter((i) => i !== "*");
    if (mine.includes("*")) names.push(...this.knownInboxes()); // every inbox: those seen in the list
    const select = this.$("#reports-inbox");
    for (const name of [...new Set(names)].sort()) {
      const option = select.appendChild(el(select.ownerDocument, "option", "", name));
      option.value = name;
    }
  }

  _status(text) {
    this.$("#reports-status").textContent = text;
  }
}

function rangeText({ since, until, inbox, resolved_after_s: after }) {
  const day = (s) => new Date(s * 1000).toLocaleDateString(undefined,
    { day: "numeric", month: "short", year: "numeric" });
  const span = since && until ? `${day(since)} – ${day(until)}` : "";
  const rule = after ? `Resolved by the assistant: never handed over, quiet for ${duration(after)}, ` +
    "its last answer neither rated down nor unsure." : "";
  return [span && `${span}, ${inbox ? `inbox ${inbox}` : "all my inboxes"}.`, rule].filter(Boolean).join(" ");
}
