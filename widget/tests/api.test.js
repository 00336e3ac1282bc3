import { describe, expect, it, vi } from 'vitest';
import { ChatApiError, fetchWidgetConfig, normalizeBotMessages, sendMessage } from '../src/api.js';

const BASE = 'https://bot.example.org';

function jsonResponse(status, body) {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

const send = (fetchImpl, extra = {}) =>
  sendMessage({ base: BASE, sender: 'web-1', message: 'hi', fetchImpl, ...extra });

async function errorOf(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('sendMessage', () => {
  it('POSTs sender and message as JSON to the REST webhook', async () => {
    const fetchImpl = vi.fn().mockResolvedValue(jsonResponse(200, []));
    await send(fetchImpl);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    const [url, init] = fetchImpl.mock.calls[0];
    expect(url).toBe('https://bot.example.org/webhooks/rest/webhook');
    expect(init.method).toBe('POST');
    expect(init.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(init.body)).toEqual({ sender: 'web-1', message: 'hi' });
    expect(init.signal).toBeInstanceOf(AbortSignal);
  });

  it('sends metadata as the body\'s "metadata" field only when given', async () => {
    const fetchImpl = vi.fn(async () => jsonResponse(200, []));
    await send(fetchImpl, { message: '/greet', metadata: { language_choice: 'es' } });
    expect(JSON.parse(fetchImpl.mock.calls[0][1].body)).toEqual({
      sender: 'web-1',
      message: '/greet',
      metadata: { language_choice: 'es' },
    });
    await send(fetchImpl, { metadata: undefined });
    expect(JSON.parse(fetchImpl.mock.calls[1][1].body)).not.toHaveProperty('metadata');
  });

  it('joins a base with a trailing slash correctly', async () => {
    const fetchImpl = vi.fn().mockResolvedValue(jsonResponse(200, []));
    await sendMessage({ base: `${BASE}/bot/`, sender: 's', message: 'm', fetchImpl });
    expect(fetchImpl.mock.calls[0][0]).toBe('https://bot.example.org/bot/webhooks/rest/webhook');
  });

  it('parses the array of bot messages, keeping text, buttons and image only', async () => {
    const fetchImpl = vi.fn().mockResolvedValue(
      jsonResponse(200, [
        {
          recipient_id: 'web-1',
          text: 'Hello! I am not a doctor.',
          buttons: [{ title: 'What is PRP?', payload: 'What is PRP?' }],
          custom: { x: 1 },
        },
        { recipient_id: 'web-1', buttons: [{ title: 'Book', payload: '/book' }] },
        { recipient_id: 'web-1', image: 'https://bot.example.org/img.png' },
        { recipient_id: 'web-1' },
      ]),
    );
    expect(await send(fetchImpl)).toEqual([
      { text: 'Hello! I am not a doctor.', buttons: [{ title: 'What is PRP?', payload: 'What is PRP?' }] },
      { buttons: [{ title: 'Book', payload: '/book' }] },
      { image: 'https://bot.example.org/img.png' },
    ]);
  });

  it('treats a 503 carrying the usual array as a normal answer', async () => {
    const fetchImpl = vi
      .fn()
      .mockResolvedValue(jsonResponse(503, [{ recipient_id: 'web-1', text: 'I am having trouble, please call.' }]));
    expect(await send(fetchImpl)).toEqual([{ text: 'I am having trouble, please call.' }]);
  });

  it('turns a network error into a typed error', async () => {
    const fetchImpl = vi.fn().mockRejectedValue(new TypeError('Failed to fetch'));
    const err = await errorOf(send(fetchImpl));
    expect(err).toBeInstanceOf(ChatApiError);
    expect(err.kind).toBe('network');
  });

  it('times out via AbortController', async () => {
    vi.useFakeTimers();
    try {
      const fetchImpl = vi.fn(
        (url, init) =>
          new Promise((resolve, reject) => {
            init.signal.addEventListener('abort', () => reject(new DOMException('Aborted', 'AbortError')));
          }),
      );
      const pending = errorOf(send(fetchImpl, { timeoutMs: 20000 }));
      await vi.advanceTimersByTimeAsync(19999);
      expect(fetchImpl.mock.calls[0][1].signal.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const err = await pending;
      expect(err).toBeInstanceOf(ChatApiError);
      expect(err.kind).toBe('timeout');
    } finally {
      vi.useRealTimers();
    }
  });

  it('uses a 20 s timeout by default', async () => {
    vi.useFakeTimers();
    try {
      const fetchImpl = vi.fn(
        (url, init) =>
          new Promise((_, reject) => {
            init.signal.addEventListener('abort', () => reject(new Error('aborted')));
          }),
      );
      const pending = errorOf(send(fetchImpl));
      await vi.advanceTimersByTimeAsync(20000);
      expect((await pending).kind).toBe('timeout');
    } finally {
      vi.useRealTimers();
    }
  });

  it('400 becomes a bad-request error with the server message', async () => {
    const fetchImpl = vi.fn().mockResolvedValue(jsonResponse(400, { error: 'message too long' }));
    const err = await errorOf(send(fetchImpl));
    expect(err).toBeInstanceOf(ChatApiError);
    expect(err.kind).toBe('bad-request');
    expect(err.status).toBe(400);
    expect(err.message).toBe('message too long');
  });

  it('400 without a JSON error still gives a bad-request error', async () => {
    const fetchImpl = vi.fn().mockResolvedValue(new Response('nope', { status: 400 }));
    const err = await errorOf(send(fetchImpl));
    expect(err.kind).toBe('bad-request');
    expect(err.message).toMatch(/400/);
  });

  it('non-JSON 200 is a bad-response error', async () => {
    const fetchImpl = vi.fn().mockResolvedValue(new Response('<html>proxy page</html>', { status: 200 }));
    const err = await errorOf(send(fetchImpl));
    expect(err).toBeInstanceOf(ChatApiError);
    expect(err.kind).toBe('bad-response');
  });

  it('200 with a non-array JSON body is a bad-response error', async () => {
    const fetchImpl = vi.fn().mockResolvedValue(jsonResponse(200, { text: 'hi' }));
    expect((await errorOf(send(fetchImpl))).kind).toBe('bad-response');
  });

  it('5xx without an array body is a server error', async () => {
    for (const body of ['Bad gateway', { error: 'down' }]) {
      const fetchImpl = vi.fn().mockResolvedValue(jsonResponse(502, body));
      const err = await errorOf(send(fetchImpl));
      expect(err.kind).toBe('server');
      expect(err.status).toBe(502);
    }
  });

  it('an outer abort signal cancels the request', async () => {
    const controller = new AbortController();
    const fetchImpl = vi.fn(
      (url, init) =>
        new Promise((_, reject) => {
          init.signal.addEventListener('abort', () => reject(new Error('aborted')));
        }),
    );
    const pending = errorOf(send(fetchImpl, { signal: controller.signal }));
    controller.abort();
    const err = await pending;
    expect(err.kind).toBe('network');
  });
});

describe('normalizeBotMessages', () => {
  it('drops malformed entries, unsafe images and buttons without payload', () => {
    expect(
      normalizeBotMessages([
        null,
        'text',
        { text: 42 },
        { text: 'ok', image: 'javascript:alert(1)' },
        { buttons: [{ title: 'no payload' }, { payload: '/p' }, 'x'] },
      ]),
    ).toEqual([{ text: 'ok' }, { buttons: [{ title: '/p', payload: '/p' }] }]);
    expect(normalizeBotMessages({ not: 'array' })).toEqual([]);
  });
});

describe('fetchWidgetConfig', () => {
  it('returns the known string fields', async () => {
    const fetchImpl = vi.fn().mockResolvedValue(
      jsonResponse(200, { clinic_name: 'Spine Clinic', phone: '+1 555 0100', title: 'Ask us', extra: 1 }),
    );
    expect(await fetchWidgetConfig({ base: BASE, fetchImpl })).toEqual({
      clinic_name: 'Spine Clinic',
      phone: '+1 555 0100',
      title: 'Ask us',
    });
    expect(fetchImpl.mock.calls[0][0]).toBe('https://bot.example.org/webhooks/widget/config');
    expect(fetchImpl.mock.calls[0][1].method).toBe('GET');
  });

  it('fails on HTTP errors and non-object bodies', async () => {
    const e1 = await errorOf(fetchWidgetConfig({ base: BASE, fetchImpl: vi.fn().mockResolvedValue(jsonResponse(404, {})) }));
    expect(e1).toBeInstanceOf(ChatApiError);
    const e2 = await errorOf(fetchWidgetConfig({ base: BASE, fetchImpl: vi.fn().mockResolvedValue(jsonResponse(200, [])) }));
    expect(e2.kind).toBe('bad-response');
    const e3 = await errorOf(fetchWidgetConfig({ base: BASE, fetchImpl: vi.fn().mockRejectedValue(new TypeError('x')) }));
    expect(e3.kind).toBe('network');
  });
});
