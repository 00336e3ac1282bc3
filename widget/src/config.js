// Settings read from the embedding <script> tag. Must be called while the
// script is executing: document.currentScript is null afterwards.
// Missing texts stay empty: the widget then uses its own wording in the
// language being shown (src/i18n.js).

import { normalizeLanguage } from './i18n.js';

function httpOrigin(value, relativeTo) {
  if (!value) return null;
  try {
    const url = new URL(value, relativeTo);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    return url;
  } catch {
    return null;
  }
}

function findScript(doc) {
  if (doc.currentScript) return doc.currentScript;
  // Fallback for environments where currentScript is not set.
  const scripts = doc.querySelectorAll('script[src*="clinic-chat"]');
  return scripts.length ? scripts[scripts.length - 1] : null;
}

/**
 * @returns {{base: string, phone: string, title: string, titleEs: string, lang: 'en'|'es'|null}}
 *   `lang` is data-lang reduced to "en"/"es", or null if absent or unsupported.
 */
export function readScriptSettings(doc = document) {
  const script = findScript(doc);
  const pageUrl = doc.location ? doc.location.href : undefined;
  const attr = (name) => {
    const v = script && script.getAttribute(name);
    return v && v.trim() ? v.trim() : null;
  };

  // data-server may include a path prefix (bot behind a reverse proxy);
  // otherwise the bot lives where the script was loaded from.
  let base = null;
  const override = httpOrigin(attr('data-server'), pageUrl);
  if (override) {
    base = (override.origin + override.pathname).replace(/\/+$/, '');
  } else {
    const src = httpOrigin(script && script.src, pageUrl);
    if (src) base = src.origin;
  }
  if (!base) base = doc.location && doc.location.origin !== 'null' ? doc.location.origin : '';

  return {
    base,
    phone: attr('data-phone') || '',
    title: attr('data-title') || '',
    titleEs: attr('data-title-es') || '',
    lang: normalizeLanguage(attr('data-lang')),
  };
}
