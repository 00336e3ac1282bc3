import { afterEach, describe, expect, it } from 'vitest';
import { readScriptSettings } from '../src/config.js';

function fakeDoc(attrs, { current = true, href = 'https://clinic.example/page' } = {}) {
  const script = document.createElement('script');
  for (const [k, v] of Object.entries(attrs)) script.setAttribute(k, v);
  document.body.appendChild(script);
  return {
    currentScript: current ? script : null,
    querySelectorAll: (sel) => document.querySelectorAll(sel),
    location: new URL(href),
  };
}

afterEach(() => {
  document.body.innerHTML = '';
});

describe('readScriptSettings', () => {
  it('uses the origin of the script src as the server base', () => {
    const s = readScriptSettings(fakeDoc({ src: 'https://bot.example.org/webhooks/widget/clinic-chat.js' }));
    // No fallbacks given: the widget uses its own wording in the language shown.
    expect(s).toEqual({ base: 'https://bot.example.org', phone: '', title: '', titleEs: '', lang: null });
  });

  it('resolves a relative src against the page', () => {
    // script.src is already absolute (resolved against jsdom's own page URL).
    const s = readScriptSettings(fakeDoc({ src: '/webhooks/widget/clinic-chat.js' }));
    expect(s.base).toBe(window.location.origin);
  });

  it('lets data-server override the base (path kept, trailing slash dropped)', () => {
    const s = readScriptSettings(
      fakeDoc({ src: 'https://cdn.example/clinic-chat.js', 'data-server': 'https://bot.example.org/rasa/' }),
    );
    expect(s.base).toBe('https://bot.example.org/rasa');
  });

  it('ignores a non-http data-server', () => {
    const s = readScriptSettings(
      fakeDoc({ src: 'https://bot.example.org/clinic-chat.js', 'data-server': 'javascript:alert(1)' }),
    );
    expect(s.base).toBe('https://bot.example.org');
  });

  it('reads data-phone and data-title fallbacks', () => {
    const s = readScriptSettings(
      fakeDoc({ src: 'https://bot.example.org/clinic-chat.js', 'data-phone': '555-0100', 'data-title': 'Ask the spine team' }),
    );
    expect(s.phone).toBe('555-0100');
    expect(s.title).toBe('Ask the spine team');
  });

  it('reads data-title-es', () => {
    const s = readScriptSettings(
      fakeDoc({ src: 'https://bot.example.org/clinic-chat.js', 'data-title-es': 'Pregúntele al equipo' }),
    );
    expect(s.titleEs).toBe('Pregúntele al equipo');
  });

  it('reads data-lang as "en" or "es" (region dropped), anything else as no choice', () => {
    const lang = (v) => readScriptSettings(fakeDoc({ src: 'https://bot.example.org/c.js', 'data-lang': v })).lang;
    expect(lang('es')).toBe('es');
    expect(lang('es-419')).toBe('es');
    expect(lang(' ES_us ')).toBe('es');
    expect(lang('en-GB')).toBe('en');
    expect(lang('fr')).toBeNull();
    expect(lang('')).toBeNull();
  });

  it('finds the script tag when currentScript is not available', () => {
    const s = readScriptSettings(fakeDoc({ src: 'https://bot.example.org/webhooks/widget/clinic-chat.js' }, { current: false }));
    expect(s.base).toBe('https://bot.example.org');
  });
});
