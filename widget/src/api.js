// Client for the bot server's REST channel and the widget config endpoint.
// Every failure becomes a ChatApiError with a `kind`, so the UI can decide
// what to show without inspecting fetch internals.

export const DEFAULT_TIMEOUT_MS = 20000;

export class ChatApiError extends Error {
  /**
   * @param {'network'|'timeout'|'bad-request'|'server'|'bad-response'} kind
   * @param {string} message
   * @param {number} [status]
   */
  constructor(kind, message, status) {
    super(message);
    this.name = 'ChatApiError';
    this.kind = kind;
    this.status = status;
  }
}

function joinUrl(base, path) {
  return String(base || '').replace(/\/+$/, '') + path;
}

const isNonEmptyString = (v) => typeof v === 'string' && v.trim() !== '';

function normalizeButtons(raw) {
  if (!Array.isArray(raw)) return [];
  const out = [];
  for (const b of raw) {
    if (!b || typeof b !== 'object') continue;
    const payload = isNonEmptyString(b.payload) ? b.payload : null;
    const title = isNonEmptyString(b.title) ? b.title : payload;
    if (title && payload) out.push({ title, payload });
  }
  return out;
}

function normalizeImage(raw) {
  if (!isNonEmptyString(raw)) return undefined;
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keep only the fields the widget renders (text, buttons, image) and drop
 * anything malformed, so the UI never has to re-validate server data.
 */
export function normalizeBotMessages(body) {
  if (!Array.isArray(body)) return [];
  const out = [];
  for (const item of body) {
    if (!item || typeof item !== 'object') continue;
    const msg = {};
    if (isNonEmptyString(item.text)) msg.text = item.text;
    const buttons = normalizeButtons(item.buttons);
    if (buttons.length) msg.buttons = buttons;
    const image = normalizeImage(item.image);
    if (image) msg.image = image;
    if (msg.text || msg.buttons || msg.image) out.push(msg);
  }
  return out;
}

// fetch with an AbortController-based timeout; an outer signal (e.g. "Start
// over" cancelling an in-flight request) aborts it too.
async function fetchWithTimeout(fetchImpl, url, init, timeoutMs, outerSignal) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onOuterAbort = () => controller.abort();
  if (outerSignal) {
    if (outerSignal.aborted) controller.abort();
    else outerSignal.addEventListener('abort', onOuterAbort, { once: true });
  }
  try {
    return await fetchImpl(url, { ...init, signal: controller.signal });
  } catch (err) {
    if (timedOut) throw new ChatApiError('timeout', 'The request timed out.');
    if (outerSignal && outerSignal.aborted) {
      throw new ChatApiError('network', 'The request was cancelled.');
    }
    throw new ChatApiError('network', (err && err.message) || 'Network error.');
  } finally {
    clearTimeout(timer);
    if (outerSignal) outerSignal.removeEventListener('abort', onOuterAbort);
  }
}

async function readJson(response) {
  let text;
  try {
    text = await response.text();
  } catch {
    return { ok: false };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * Send one user message; resolves to the normalized bot replies.
 * `metadata` (a plain object) is sent as the body's "metadata" field; without
 * it the body has no such field. A 5xx that still carries the usual array (the
 * server's own "I'm having trouble" reply) is treated as a normal answer.
 */
export async function sendMessage({
  base,
  sender,
  message,
  metadata,
  fetchImpl = globalThis.fetch,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  signal,
}) {
  const response = await fetchWithTimeout(
    fetchImpl,
    joinUrl(base, '/webhooks/rest/webhook'),
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(
        metadata && typeof metadata === 'object' ? { sender, message, metadata } : { sender, message },
      ),
      credentials: 'omit',
    },
    timeoutMs,
    signal,
  );
  const status = response.status;
  const body = await readJson(response);

  if (body.ok && Array.isArray(body.value) && (response.ok || status >= 500)) {
    return normalizeBotMessages(body.value);
  }
  if (status >= 400 && status < 500) {
    const serverMsg =
      body.ok && body.value && isNonEmptyString(body.value.error)
        ? body.value.error
        : `Request rejected (${status}).`;
    throw new ChatApiError('bad-request', serverMsg, status);
  }
  if (status >= 500) {
    throw new ChatApiError('server', `Server error (${status}).`, status);
  }
  throw new ChatApiError('bad-response', 'Unexpected response from the server.', status);
}

/** Fetch the clinic's display settings; throws ChatApiError on any problem. */
export async function fetchWidgetConfig({
  base,
  fetchImpl = globalThis.fetch,
  timeoutMs = 8000,
}) {
  const response = await fetchWithTimeout(
    fetchImpl,
    joinUrl(base, '/webhooks/widget/config'),
    { method: 'GET', headers: { Accept: 'application/json' }, credentials: 'omit' },
    timeoutMs,
  );
  if (!response.ok) {
    throw new ChatApiError('server', `Config request failed (${response.status}).`, response.status);
  }
  const body = await readJson(response);
  if (!body.ok || !body.value || typeof body.value !== 'object' || Array.isArray(body.value)) {
    throw new ChatApiError('bad-response', 'Config is not a JSON object.', response.status);
  }
  const config = {};
  for (const key of ['clinic_name', 'phone', 'title']) {
    if (isNonEmptyString(body.value[key])) config[key] = body.value[key].trim();
  }
  return config;
}
