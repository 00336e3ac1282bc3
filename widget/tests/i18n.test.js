import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LANGUAGE,
  LANGUAGES,
  LANGUAGE_NAMES,
  MESSAGES,
  detectLanguage,
  messagesFor,
  normalizeLanguage,
  resolveLanguage,
} from '../src/i18n.js';

const PHONE = '(305) 555-0147';

describe('normalizeLanguage', () => {
  it('keeps the primary subtag of English and Spanish tags', () => {
    for (const [tag, want] of [
      ['es', 'es'],
      ['es-US', 'es'],
      ['es-419', 'es'],
      ['ES_mx', 'es'],
      [' es ', 'es'],
      ['en', 'en'],
      ['en-US', 'en'],
      ['EN-gb', 'en'],
    ]) {
      expect(normalizeLanguage(tag), tag).toBe(want);
    }
  });

  it('returns null for anything else', () => {
    for (const tag of ['fr', 'pt-BR', 'spa', 'eng', 'e', '', '-es', null, undefined, 7]) {
      expect(normalizeLanguage(tag), String(tag)).toBeNull();
    }
  });
});

describe('resolveLanguage: data-lang > <html lang> > navigator > English', () => {
  it('the option wins over everything', () => {
    expect(resolveLanguage({ option: 'es', pageLang: 'en', browserLanguages: ['en-US'] })).toBe('es');
    expect(resolveLanguage({ option: 'en', pageLang: 'es-US', browserLanguages: ['es'] })).toBe('en');
  });

  it('then the page language', () => {
    expect(resolveLanguage({ pageLang: 'es-419', browserLanguages: ['en-US'] })).toBe('es');
    expect(resolveLanguage({ option: null, pageLang: 'en', browserLanguages: ['es-MX'] })).toBe('en');
  });

  it('then the first supported browser language', () => {
    expect(resolveLanguage({ browserLanguages: ['es-US', 'en'] })).toBe('es');
    expect(resolveLanguage({ pageLang: '', browserLanguages: ['fr-FR', 'es', 'en'] })).toBe('es');
    expect(resolveLanguage({ browserLanguages: ['en-US', 'es'] })).toBe('en');
  });

  it('then English', () => {
    expect(resolveLanguage({})).toBe('en');
    expect(resolveLanguage()).toBe('en');
    expect(resolveLanguage({ browserLanguages: ['fr', 'de'] })).toBe(DEFAULT_LANGUAGE);
  });

  it('skips sources that name another language', () => {
    expect(resolveLanguage({ option: 'fr', pageLang: 'es', browserLanguages: ['en'] })).toBe('es');
    expect(resolveLanguage({ option: 'fr', pageLang: 'de', browserLanguages: ['es'] })).toBe('es');
  });
});

describe('detectLanguage', () => {
  const docWithLang = (lang) => {
    const doc = document.implementation.createHTMLDocument('x');
    if (lang !== null) doc.documentElement.setAttribute('lang', lang);
    return doc;
  };

  it('reads <html lang> from the document', () => {
    expect(detectLanguage({ doc: docWithLang('es-US'), nav: { languages: ['en-US'] } })).toBe('es');
  });

  it('reads navigator.languages, or navigator.language when there is no list', () => {
    expect(detectLanguage({ doc: docWithLang(null), nav: { languages: ['fr', 'es-ES'] } })).toBe('es');
    expect(detectLanguage({ doc: docWithLang(null), nav: { language: 'es-AR' } })).toBe('es');
    expect(detectLanguage({ doc: docWithLang(null), nav: { languages: [], language: 'es' } })).toBe('es');
  });

  it('lets the option win and falls back to English', () => {
    expect(detectLanguage({ option: 'en', doc: docWithLang('es'), nav: { languages: ['es'] } })).toBe('en');
    expect(detectLanguage({ doc: docWithLang(null), nav: null })).toBe('en');
  });
});

describe('catalog', () => {
  const keys = (l) => Object.keys(MESSAGES[l]).sort();

  it('has English and Spanish, each named in its own language', () => {
    expect(LANGUAGES).toEqual(['en', 'es']);
    expect(LANGUAGE_NAMES).toEqual({ en: 'English', es: 'Español' });
  });

  it('has every key in both languages, of the same kind, never empty', () => {
    expect(keys('es')).toEqual(keys('en'));
    expect(keys('en').length).toBeGreaterThan(15);
    for (const l of LANGUAGES) {
      for (const [key, value] of Object.entries(MESSAGES[l])) {
        expect(typeof value, `${l}.${key}`).toBe(typeof MESSAGES.en[key]);
        const texts = typeof value === 'function' ? [value(PHONE), value('')] : [value];
        for (const text of texts) {
          expect(typeof text, `${l}.${key}`).toBe('string');
          expect(text.trim(), `${l}.${key}`).not.toBe('');
        }
      }
    }
  });

  it('really translates: no Spanish string equals its English one', () => {
    for (const key of keys('en')) {
      const en = MESSAGES.en[key];
      const es = MESSAGES.es[key];
      if (typeof en === 'function') expect(es(PHONE), key).not.toBe(en(PHONE));
      else expect(es, key).not.toBe(en);
    }
  });

  it('the Spanish unreachable notice keeps 911 and the clinic phone', () => {
    const text = MESSAGES.es.unreachable(PHONE);
    expect(text).toContain('Si es una emergencia, llame al 911');
    expect(text).toContain(PHONE);
    expect(MESSAGES.es.unreachable('')).toContain('Si es una emergencia, llame al 911');
    expect(MESSAGES.en.unreachable(PHONE)).toContain('If this is an emergency, call 911');
    expect(MESSAGES.en.unreachable(PHONE)).toContain(PHONE);
  });

  it('never promises results', () => {
    const banned = /\b(cure|cured|guarantee\w*|proven|fda-approved|cura|curar|garantiza\w*|probado|aprobado por la fda|sin riesgos)\b|100\s?%/i;
    for (const l of LANGUAGES) {
      for (const [key, value] of Object.entries(MESSAGES[l])) {
        const text = typeof value === 'function' ? value(PHONE) : value;
        expect(text, `${l}.${key}`).not.toMatch(banned);
      }
    }
  });

  it('messagesFor falls back to English', () => {
    expect(messagesFor('es-US')).toBe(MESSAGES.es);
    expect(messagesFor('fr')).toBe(MESSAGES.en);
    expect(messagesFor(undefined)).toBe(MESSAGES.en);
  });
});
