// Drives the mounted widget (shadow DOM and all) in jsdom with a fake server.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act } from 'react';
import { mountWidget } from '../src/mount.jsx';
import { STORAGE_KEY } from '../src/storage.js';

globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const BASE = 'https://bot.example.org';
const GREETING = [
  {
    recipient_id: 'x',
    text: 'Hi! I am the clinic assistant.\n**I cannot give medical advice.**',
    buttons: [
      { title: 'What is PRP?', payload: '/ask_prp' },
      { title: 'Opening hours', payload: '/ask_hours' },
    ],
  },
];

const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/** A fake bot server; `reply(message)` decides each webhook answer. */
function fakeServer(reply, config = { clinic_name: 'Spine Clinic', phone: '+1 555 0100', title: 'Spine helper' }) {
  const posts = [];
  const fetchImpl = vi.fn(async (url, init = {}) => {
    if (url.endsWith('/webhooks/widget/config')) {
      return config ? json(200, config) : json(404, {});
    }
    if (url.endsWith('/webhooks/rest/webhook')) {
      const body = JSON.parse(init.body);
      posts.push(body);
      return reply(body.message, body);
    }
    throw new Error(`unexpected ${url}`);
  });
  return { fetchImpl, posts };
}

const defaultReply = (message) =>
  message === '/greet' ? json(200, GREETING) : json(200, [{ recipient_id: 'x', text: `You said: ${message}` }]);

let widget;
const settings = { base: BASE };
// jsdom's own navigator says en-US; tests pass theirs so the language is explicit.
const ENGLISH_BROWSER = { languages: ['en-US', 'en'] };

async function mount(server, { settings: extra = {}, nav = ENGLISH_BROWSER } = {}) {
  await act(async () => {
    widget = mountWidget({ settings: { ...settings, ...extra }, fetchImpl: server.fetchImpl, nav });
  });
  return widget;
}

const $ = (id) => widget.shadow.querySelector(`[data-testid="${id}"]`);
const $$ = (id) => [...widget.shadow.querySelectorAll(`[data-testid="${id}"]`)];

async function flush() {
  for (let i = 0; i < 5; i++) {
    await act(async () => {
      await new Promise((r) => setTimeout(r, 0));
    });
  }
}

async function click(el) {
  await act(async () => {
    el.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  });
  await flush();
}

async function type(text) {
  const input = $('chat-input');
  const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;
  await act(async () => {
    setter.call(input, text);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

async function key(el, k, extra = {}) {
  await act(async () => {
    el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, ...extra }));
  });
  await flush();
}

beforeEach(() => {
  sessionStorage.clear();
  document.documentElement.removeAttribute('lang');
});

afterEach(() => {
  if (widget) act(() => widget.unmount());
  widget = null;
});

describe('chat widget', () => {
  it('mounts into an open shadow root on a #clinic-chat-root host', async () => {
    await mount(fakeServer(defaultReply));
    const host = document.getElementById('clinic-chat-root');
    expect(host).not.toBeNull();
    expect(host.shadowRoot).toBe(widget.shadow);
    expect(widget.shadow.querySelector('style')).not.toBeNull();
    const launcher = $('chat-launcher');
    expect(launcher.tagName).toBe('BUTTON');
    expect(launcher.getAttribute('aria-label')).toBe('Open chat with the clinic assistant');
    expect(launcher.getAttribute('aria-expanded')).toBe('false');
    expect(widget.shadow.getElementById(launcher.getAttribute('aria-controls'))).toBe($('chat-panel'));
    expect($('chat-panel').hidden).toBe(true);
  });

  it('does not mount twice', async () => {
    await mount(fakeServer(defaultReply));
    expect(mountWidget({ settings })).toBeNull();
  });

  it('greets silently on first open, shows quick replies and focuses the input', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));

    expect($('chat-panel').hidden).toBe(false);
    expect($('chat-launcher').getAttribute('aria-expanded')).toBe('true');
    expect(server.posts).toHaveLength(1);
    expect(server.posts[0].message).toBe('/greet');
    expect(server.posts[0].sender).toMatch(/^web-/);
    expect($$('user-message')).toHaveLength(0);
    const bot = $$('bot-message');
    expect(bot).toHaveLength(1);
    expect(bot[0].querySelector('strong').textContent).toBe('I cannot give medical advice.');
    expect($$('quick-reply').map((b) => b.textContent)).toEqual(['What is PRP?', 'Opening hours']);
    expect(widget.shadow.activeElement).toBe($('chat-input'));
    expect($('chat-input').getAttribute('aria-label')).toBe('Type your question');
    // The live region announces the greeting as plain text.
    const live = widget.shadow.querySelector('[aria-live="polite"]');
    expect(live.textContent).toContain('I cannot give medical advice.');
    expect(live.textContent).not.toContain('**');
  });

  it('uses the server config title', async () => {
    await mount(fakeServer(defaultReply));
    await flush();
    expect(widget.shadow.querySelector('h2').textContent).toBe('Spine helper');
  });

  it('sends the payload of a quick reply but shows its title, then retires old replies', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));
    await click($$('quick-reply')[0]);

    expect(server.posts[1].message).toBe('/ask_prp');
    const users = $$('user-message');
    expect(users).toHaveLength(1);
    expect(users[0].textContent).toBe('What is PRP?');
    expect($$('quick-reply')).toHaveLength(0);
    expect($$('bot-message').at(-1).textContent).toBe('You said: /ask_prp');
  });

  it('offers "Not helpful" under the latest answer only, and sends it as feedback', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));
    expect($$('feedback-negative')).toHaveLength(0); // not under the greeting
    await type('what is prp');
    await key($('chat-input'), 'Enter');
    expect($$('feedback-negative')).toHaveLength(1);
    expect($('feedback-negative').getAttribute('aria-label')).toBe('Not helpful: this answer did not help');

    await click($('feedback-negative'));
    expect(server.posts.at(-1).message).toBe('/feedback_negative');
    expect($$('user-message').at(-1).textContent).toBe('That did not help');
    expect($$('feedback-negative')).toHaveLength(0); // no feedback on the thank-you
  });

  it('sends typed text on Enter and shows HTML literally', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));
    const evil = '<img src=x onerror=alert(1)>';
    await type(evil);
    await key($('chat-input'), 'Enter');

    expect(server.posts.at(-1).message).toBe(evil);
    expect($$('user-message')[0].textContent).toBe(evil);
    expect(widget.shadow.querySelector('.cc-list img')).toBeNull();
    expect($('chat-input').value).toBe('');
    // The bot echo contains the payload too and must also stay text.
    expect($$('bot-message').at(-1).textContent).toBe(`You said: ${evil}`);
  });

  it('Shift+Enter does not send', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));
    await type('hello');
    await key($('chat-input'), 'Enter', { shiftKey: true });
    expect(server.posts).toHaveLength(1);
  });

  it('shows a typing indicator while waiting', async () => {
    let release;
    const server = fakeServer(
      (message) =>
        new Promise((resolve) => {
          release = () => resolve(defaultReply(message));
        }),
    );
    await mount(server);
    await click($('chat-launcher'));
    expect($('chat-typing')).not.toBeNull();
    await act(async () => release());
    await flush();
    expect($('chat-typing')).toBeNull();
  });

  it('on network failure shows the notice with the phone and restores the typed text', async () => {
    let fail = false;
    const server = fakeServer((message) => {
      if (fail) throw new TypeError('Failed to fetch');
      return defaultReply(message);
    });
    await mount(server);
    await click($('chat-launcher'));
    fail = true;
    await type('Do you treat sciatica?');
    await click($('chat-send'));

    const notice = $('chat-error');
    expect(notice.textContent).toBe(
      "Sorry, I can't reach the clinic assistant right now. If this is an emergency, call 911. Otherwise please call the clinic at +1 555 0100, or try again.",
    );
    expect($$('user-message')).toHaveLength(0);
    expect($('chat-input').value).toBe('Do you treat sciatica?');
    // Quick replies are still usable because nothing was sent.
    expect($$('quick-reply')).toHaveLength(2);
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY));
    expect(saved.messages.some((m) => m.text === 'Do you treat sciatica?')).toBe(false);
  });

  it('treats a 5xx without an array as unreachable and shows 503-with-array normally', async () => {
    let mode = 'ok';
    const server = fakeServer((message) => {
      if (mode === '502') return new Response('Bad gateway', { status: 502 });
      if (mode === '503') return json(503, [{ recipient_id: 'x', text: 'I am having trouble. Please call.' }]);
      return defaultReply(message);
    });
    await mount(server);
    await click($('chat-launcher'));
    mode = '503';
    await type('q1');
    await key($('chat-input'), 'Enter');
    expect($$('bot-message').at(-1).textContent).toBe('I am having trouble. Please call.');
    expect($('chat-error')).toBeNull();
    mode = '502';
    await type('q2');
    await key($('chat-input'), 'Enter');
    expect($('chat-error')).not.toBeNull();
    expect($('chat-input').value).toBe('q2');
  });

  it('shows a short notice for a 400', async () => {
    let bad = false;
    const server = fakeServer((m) => (bad ? json(400, { error: 'message too long' }) : defaultReply(m)));
    await mount(server);
    await click($('chat-launcher'));
    bad = true;
    await type('x'.repeat(50));
    await key($('chat-input'), 'Enter');
    expect($('chat-error').textContent).toContain('message too long');
    expect($('chat-input').value).toBe('x'.repeat(50));
  });

  it('falls back to the script-tag phone and title when the config fails', async () => {
    const server = fakeServer(() => {
      throw new TypeError('offline');
    }, null);
    await mount(server, { settings: { phone: '305-555-0199', title: 'Ask the spine team' } });
    await click($('chat-launcher'));
    expect($('chat-error').textContent).toContain('call the clinic at 305-555-0199');
    expect(widget.shadow.querySelector('h2').textContent).toBe('Ask the spine team');
  });

  it('without any phone, the notice still asks to call the clinic (and 911)', async () => {
    const server = fakeServer(() => {
      throw new TypeError('offline');
    }, null);
    await mount(server);
    await click($('chat-launcher'));
    expect($('chat-error').textContent).toBe(
      "Sorry, I can't reach the clinic assistant right now. If this is an emergency, call 911. Otherwise please call the clinic, or try again.",
    );
    expect(widget.shadow.querySelector('h2').textContent).toBe('Spine clinic assistant');
  });

  it('Escape closes the panel and returns focus to the launcher', async () => {
    await mount(fakeServer(defaultReply));
    await click($('chat-launcher'));
    await key($('chat-input'), 'Escape');
    expect($('chat-panel').hidden).toBe(true);
    expect($('chat-launcher').getAttribute('aria-expanded')).toBe('false');
    expect(widget.shadow.activeElement).toBe($('chat-launcher'));
  });

  it('the close button closes the panel', async () => {
    await mount(fakeServer(defaultReply));
    await click($('chat-launcher'));
    expect($('chat-close').getAttribute('aria-label')).toBe('Close chat');
    await click($('chat-close'));
    expect($('chat-panel').hidden).toBe(true);
  });

  it('restores history and open state after a reload, without greeting again', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));
    await click($$('quick-reply')[1]);
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY));
    expect(saved.open).toBe(true);
    expect(saved.conversationId).toMatch(/^web-/);
    expect(localStorage.getItem(STORAGE_KEY)).toBeNull();
    act(() => widget.unmount());

    const server2 = fakeServer(defaultReply);
    await mount(server2);
    await flush();
    expect($('chat-panel').hidden).toBe(false);
    expect($$('user-message').map((e) => e.textContent)).toEqual(['Opening hours']);
    expect($$('bot-message')).toHaveLength(2);
    expect(server2.posts).toHaveLength(0);
    await type('next');
    await key($('chat-input'), 'Enter');
    expect(server2.posts[0].sender).toBe(saved.conversationId);
  });

  it('Start over clears history, uses a new id and greets again', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));
    await click($$('quick-reply')[0]);
    const firstId = server.posts[0].sender;
    await click($('chat-start-over'));

    expect(server.posts.at(-1).message).toBe('/greet');
    expect(server.posts.at(-1).sender).not.toBe(firstId);
    expect($$('user-message')).toHaveLength(0);
    expect($$('bot-message')).toHaveLength(1);
    expect($$('quick-reply')).toHaveLength(2);
    expect(JSON.parse(sessionStorage.getItem(STORAGE_KEY)).conversationId).toBe(server.posts.at(-1).sender);
  });
});

describe('English and Spanish', () => {
  const root = () => widget.shadow.querySelector('.cc-widget');
  const title = () => widget.shadow.querySelector('h2').textContent;

  it('English by default: the first greeting asks for English, the toggle shows EN pressed', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    expect(root().getAttribute('lang')).toBe('en');
    await click($('chat-launcher'));
    expect(server.posts[0]).toEqual({
      sender: server.posts[0].sender,
      message: '/greet',
      metadata: { language_choice: 'en' },
    });
    const en = $('chat-lang-en');
    const es = $('chat-lang-es');
    expect(en.tagName).toBe('BUTTON');
    expect(en.type).toBe('button');
    // Named by their visible text, each in its own language.
    expect(en.textContent).toBe('English');
    expect(es.textContent).toBe('Español');
    expect(en.hasAttribute('aria-label')).toBe(false);
    expect(es.getAttribute('lang')).toBe('es');
    expect(en.getAttribute('aria-pressed')).toBe('true');
    expect(es.getAttribute('aria-pressed')).toBe('false');
    expect(en.parentElement.getAttribute('role')).toBe('group');
    expect(en.parentElement.getAttribute('aria-label')).toBe('Language');
  });

  it('data-lang="es" wins over <html lang> and the browser: Spanish UI and greeting', async () => {
    document.documentElement.setAttribute('lang', 'en');
    const server = fakeServer(defaultReply);
    await mount(server, { settings: { lang: 'es' }, nav: ENGLISH_BROWSER });
    expect($('chat-launcher').getAttribute('aria-label')).toBe('Abrir el chat con el asistente de la clínica');
    await click($('chat-launcher'));
    expect(server.posts[0].message).toBe('/greet');
    expect(server.posts[0].metadata).toEqual({ language_choice: 'es' });
    expect(root().getAttribute('lang')).toBe('es');
    expect($('chat-input').getAttribute('placeholder')).toBe('Escriba su pregunta…');
    expect($('chat-input').getAttribute('aria-label')).toBe('Escriba su pregunta');
    expect($('chat-send').getAttribute('aria-label')).toBe('Enviar');
    expect($('chat-close').getAttribute('aria-label')).toBe('Cerrar el chat');
    expect($('chat-start-over').textContent).toBe('Empezar de nuevo');
    expect(widget.shadow.querySelector('.cc-replies').getAttribute('aria-label')).toBe('Preguntas sugeridas');
    expect($('chat-lang-es').getAttribute('aria-pressed')).toBe('true');
    expect($('chat-lang-es').textContent).toBe('Español');
    expect($('chat-lang-en').textContent).toBe('English');
    expect($('chat-lang-es').parentElement.getAttribute('aria-label')).toBe('Idioma');
    // The server's title is English; the Spanish UI uses its own.
    expect(title()).toBe('Asistente de la clínica de columna');
  });

  it('<html lang="es-US"> picks Spanish when there is no data-lang', async () => {
    document.documentElement.setAttribute('lang', 'es-US');
    const server = fakeServer(defaultReply);
    await mount(server, { nav: ENGLISH_BROWSER });
    await click($('chat-launcher'));
    expect(server.posts[0].metadata).toEqual({ language_choice: 'es' });
    expect($('chat-start-over').textContent).toBe('Empezar de nuevo');
  });

  it('the browser language is used when the page has none', async () => {
    const server = fakeServer(defaultReply);
    await mount(server, { nav: { languages: ['es-419', 'en'] } });
    await click($('chat-launcher'));
    expect(server.posts[0].metadata).toEqual({ language_choice: 'es' });
  });

  it('data-title-es is the Spanish title; data-title stays the English one', async () => {
    const server = fakeServer(defaultReply, null);
    await mount(server, { settings: { title: 'Ask the spine team', titleEs: 'Pregúntele al equipo' } });
    await flush();
    expect(title()).toBe('Ask the spine team');
    await click($('chat-launcher'));
    await click($('chat-lang-es'));
    expect(title()).toBe('Pregúntele al equipo');
  });

  it('the toggle switches the strings at once and sends /greet with language_choice', async () => {
    let release = null;
    const server = fakeServer((message, body) => {
      if (body.metadata && body.metadata.language_choice === 'es') {
        return new Promise((resolve) => {
          release = () => resolve(json(200, [{ recipient_id: 'x', text: '¡Hola! Soy el asistente de la clínica.' }]));
        });
      }
      return defaultReply(message);
    });
    await mount(server);
    await click($('chat-launcher'));
    expect(title()).toBe('Spine helper');
    await click($('chat-lang-es'));

    // Before the bot has answered, the UI is already Spanish.
    expect(release).not.toBeNull();
    expect($('chat-lang-es').getAttribute('aria-pressed')).toBe('true');
    expect($('chat-lang-en').getAttribute('aria-pressed')).toBe('false');
    expect($('chat-start-over').textContent).toBe('Empezar de nuevo');
    expect($('chat-input').getAttribute('placeholder')).toBe('Escriba su pregunta…');
    expect(title()).toBe('Asistente de la clínica de columna');
    expect($('chat-typing').textContent).toContain('El asistente está escribiendo…');
    expect(server.posts).toHaveLength(2);
    expect(server.posts[1]).toEqual({
      sender: server.posts[0].sender,
      message: '/greet',
      metadata: { language_choice: 'es' },
    });

    await act(async () => release());
    await flush();
    expect($$('user-message')).toHaveLength(0); // the request is silent
    // The new greeting starts a new turn: the English quick replies are gone.
    expect($$('quick-reply')).toHaveLength(0);
    expect($$('feedback-negative')).toHaveLength(0);
    expect($$('bot-message').at(-1).textContent).toBe('¡Hola! Soy el asistente de la clínica.');
    expect(JSON.parse(sessionStorage.getItem(STORAGE_KEY)).language).toBe('es');

    // Ordinary messages carry no language_choice (no metadata at all).
    await type('¿Qué es el PRP?');
    await key($('chat-input'), 'Enter');
    expect(server.posts.at(-1)).toEqual({ sender: server.posts[0].sender, message: '¿Qué es el PRP?' });

    // Back to English.
    await click($('chat-lang-en'));
    expect(server.posts.at(-1).metadata).toEqual({ language_choice: 'en' });
    expect($('chat-start-over').textContent).toBe('Start over');
    expect(JSON.parse(sessionStorage.getItem(STORAGE_KEY)).language).toBe('en');
  });

  it('pressing the language already in use sends nothing', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));
    await click($('chat-lang-en'));
    expect(server.posts).toHaveLength(1);
  });

  it('quick replies and feedback carry no language_choice', async () => {
    const server = fakeServer(defaultReply);
    await mount(server, { settings: { lang: 'es' } });
    await click($('chat-launcher'));
    await click($$('quick-reply')[0]);
    await click($('feedback-negative'));
    expect(server.posts.slice(1).map((p) => p.metadata)).toEqual([undefined, undefined]);
  });

  it('a switch while a reply is pending is sent right after it', async () => {
    let release;
    const server = fakeServer((message) =>
      message === 'slow'
        ? new Promise((resolve) => {
            release = () => resolve(defaultReply(message));
          })
        : defaultReply(message),
    );
    await mount(server);
    await click($('chat-launcher'));
    await type('slow');
    await key($('chat-input'), 'Enter');
    await click($('chat-lang-es'));
    expect($('chat-start-over').textContent).toBe('Empezar de nuevo');
    expect(server.posts).toHaveLength(2); // still waiting for "slow"
    await act(async () => release());
    await flush();
    expect(server.posts).toHaveLength(3);
    expect(server.posts[2].message).toBe('/greet');
    expect(server.posts[2].metadata).toEqual({ language_choice: 'es' });
  });

  it('the language survives a reload, wins over data-lang and is not re-sent', async () => {
    const server = fakeServer(defaultReply);
    await mount(server, { settings: { lang: 'en' } });
    await click($('chat-launcher'));
    await click($('chat-lang-es'));
    act(() => widget.unmount());

    const server2 = fakeServer(defaultReply);
    await mount(server2, { settings: { lang: 'en' } });
    await flush();
    expect($('chat-lang-es').getAttribute('aria-pressed')).toBe('true');
    expect($('chat-start-over').textContent).toBe('Empezar de nuevo');
    expect(server2.posts).toHaveLength(0);
    await click($('chat-lang-es'));
    expect(server2.posts).toHaveLength(0);
  });

  it('Start over keeps the language and greets in it', async () => {
    const server = fakeServer(defaultReply);
    await mount(server);
    await click($('chat-launcher'));
    await click($('chat-lang-es'));
    await click($('chat-start-over'));
    const last = server.posts.at(-1);
    expect(last.message).toBe('/greet');
    expect(last.metadata).toEqual({ language_choice: 'es' });
    expect(last.sender).not.toBe(server.posts[0].sender);
    expect($('chat-start-over').textContent).toBe('Empezar de nuevo');
  });

  it('the Spanish unreachable notice has 911 and the clinic phone', async () => {
    let fail = false;
    const server = fakeServer((message) => {
      if (fail) throw new TypeError('Failed to fetch');
      return defaultReply(message);
    });
    await mount(server, { settings: { lang: 'es' } });
    await click($('chat-launcher'));
    fail = true;
    await type('¿Atienden la ciática?');
    await click($('chat-send'));
    const notice = $('chat-error').textContent;
    expect(notice).toContain('Si es una emergencia, llame al 911');
    expect(notice).toContain('+1 555 0100');
    expect($('chat-input').value).toBe('¿Atienden la ciática?');
  });

  it('a failed switch shows the notice in the new language and can be retried', async () => {
    let fail = false;
    const server = fakeServer((message) => {
      if (fail) throw new TypeError('Failed to fetch');
      return defaultReply(message);
    });
    await mount(server);
    await click($('chat-launcher'));
    fail = true;
    await click($('chat-lang-es'));
    expect($('chat-error').textContent).toContain('Si es una emergencia, llame al 911');
    fail = false;
    await click($('chat-lang-es'));
    expect(server.posts.at(-1).metadata).toEqual({ language_choice: 'es' });
    expect(server.posts.filter((p) => p.metadata && p.metadata.language_choice === 'es')).toHaveLength(2);
  });

  it('"Not helpful" in Spanish, and no feedback button under the reply to it', async () => {
    const server = fakeServer(defaultReply);
    await mount(server, { settings: { lang: 'es' } });
    await click($('chat-launcher'));
    await type('¿qué es el PRP?');
    await key($('chat-input'), 'Enter');
    expect($('feedback-negative').textContent).toBe('No fue útil');
    expect($('feedback-negative').getAttribute('aria-label')).toBe('No fue útil: esta respuesta no me ayudó');
    await click($('feedback-negative'));
    expect(server.posts.at(-1).message).toBe('/feedback_negative');
    expect($$('user-message').at(-1).textContent).toBe('Eso no me ayudó');
    expect($$('feedback-negative')).toHaveLength(0);
  });
});
