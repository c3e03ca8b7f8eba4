// The console's HTTP calls. Every call but login sends the agent's token; an
// error answer ({code, message}) becomes an ApiError with that code.

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** A request with the agent's token and an optional JSON body; an error answer ({code, message})
 * becomes an ApiError. */
export async function call(url, { method = "GET", token, json } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch {
    throw new ApiError("offline", "The server cannot be reached.", 0);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = body.detail && typeof body.detail === "object" ? body.detail : body;
    throw new ApiError(detail.code || `http_${response.status}`,
      detail.message || (typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`),
      response.status);
  }
  return body;
}

/** POST /api/agents/login {name, password} -> {token, expires_at, agent?}. */
export function login(name, password) {
  return call("/api/agents/login", { method: "POST", json: { name, password } });
}

export class Api {
  constructor(token) {
    this.token = token;
    this._blobs = new Map(); // upload id -> Promise of an object URL
  }

  /** GET /api/kb/search -> hits [{id, score, request, resolution, intent, category, ...}]. */
  async searchKb(query, k = 5) {
    const url = `/api/kb/search?q=${encodeURIComponent(query)}&k=${k}`;
    const body = await call(url, { token: this.token });
    return (body.hits || []).map(flattenHit);
  }

  /** POST /api/kb/records: a resolved conversation becomes a historical record ("" intent: none named). */
  saveRecord({ conversationId, request, resolution, intent = "" }) {
    return call("/api/kb/records", {
      method: "POST", token: this.token,
      json: { conversation_id: conversationId, request, resolution, intent },
    });
  }

  /** GET /api/kb/intents: the history's intents with the labels customers read. */
  async intents() {
    return (await call("/api/kb/intents", { token: this.token })).intents || [];
  }

  /** GET /api/conversations/{id}/events (the agent's view, private events included). */
  events(conversationId, after = 0) {
    return call(`/api/conversations/${encodeURIComponent(conversationId)}/events?after=${after}&limit=1000`,
      { token: this.token });
  }

  /** An uploaded image or voice note as {url, type} (an <img> cannot send the token). */
  upload(id) {
    if (!this._blobs.has(id)) {
      this._blobs.set(id, (async () => {
        const response = await fetch(`/api/uploads/${encodeURIComponent(id)}`, {
          headers: { Authorization: `Bearer ${this.token}` },
        });
        if (!response.ok) throw new ApiError("upload_unavailable", `upload ${id}: ${response.status}`);
        const blob = await response.blob();
        return { url: URL.createObjectURL(blob), type: blob.type };
      })());
    }
    return this._blobs.get(id);
  }
}

/** A hit as the console shows it; the server sends knowledge.records.Hit.to_json():
 * {id, score, text (the resolution, placeholders filled), request, metadata: {intent, category, ...}}. */
export function flattenHit(hit) {
  const meta = hit.metadata || {};
  return {
    id: hit.id, score: hit.score, request: hit.request || meta.subject || "",
    resolution: hit.text || hit.resolution || "", intent: meta.intent || "", category: meta.category || "",
    internal: meta.audience === "internal",
  };
}
