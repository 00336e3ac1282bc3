// Conversation persistence. sessionStorage (not localStorage) so a patient's
// questions do not outlive the tab on a shared computer. Any storage failure
// (disabled storage, quota, corrupt JSON) degrades to an in-memory copy.
// The conversation's language ("en"/"es") is saved with it, so a reload keeps
// the language the patient chose.

import { LANGUAGES } from './i18n.js';

export const STORAGE_KEY = 'clinic-chat:v1';
const MAX_SAVED_MESSAGES = 200;

function randomHex(bytes) {
  const c = globalThis.crypto;
  const arr = new Uint8Array(bytes);
  if (c && typeof c.getRandomValues === 'function') {
    c.getRandomValues(arr);
  } else {
    // Last resort for very old browsers; the id is not a secret, only unique.
    for (let i = 0; i < bytes; i++) arr[i] = Math.floor(Math.random() * 256);
  }
  return Array.from(arr, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** "web-" + a random id. randomUUID only exists in secure contexts, hence the fallback. */
export function newConversationId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') {
    try {
      return `web-${c.randomUUID()}`;
    } catch {
      /* fall through */
    }
  }
  return `web-${randomHex(16)}`;
}

/** A new, empty conversation; `language` is kept only if it is "en" or "es". */
export function freshState(language) {
  const state = { conversationId: newConversationId(), messages: [], open: false };
  if (LANGUAGES.includes(language)) state.language = language;
  return state;
}

const isString = (v) => typeof v === 'string';

function validMessage(m) {
  if (!m || typeof m !== 'object' || !isString(m.id)) return false;
  if (m.from !== 'bot' && m.from !== 'user') return false;
  if (m.text !== undefined && !isString(m.text)) return false;
  if (m.image !== undefined && !isString(m.image)) return false;
  if (m.buttons !== undefined) {
    if (!Array.isArray(m.buttons)) return false;
    if (!m.buttons.every((b) => b && isString(b.title) && isString(b.payload))) return false;
  }
  return true;
}

/** Parse stored JSON into a state, or null if it is missing or not trustworthy. */
export function parseState(raw) {
  if (!isString(raw)) return null;
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!data || typeof data !== 'object') return null;
  if (!isString(data.conversationId) || data.conversationId === '') return null;
  if (!Array.isArray(data.messages) || !data.messages.every(validMessage)) return null;
  const state = {
    conversationId: data.conversationId,
    messages: data.messages,
    open: data.open === true,
  };
  // An unknown language is dropped rather than the whole conversation.
  if (LANGUAGES.includes(data.language)) state.language = data.language;
  return state;
}

// Looking up window.sessionStorage itself can throw (e.g. cookies blocked).
function defaultStorage() {
  try {
    return globalThis.sessionStorage || null;
  } catch {
    return null;
  }
}

/**
 * @param {{storage?: Storage|null, key?: string}} [opts]
 */
export function createStore(opts = {}) {
  const key = opts.key || STORAGE_KEY;
  const storage = 'storage' in opts ? opts.storage : defaultStorage();
  let memory = null;

  function load() {
    if (storage) {
      try {
        const raw = storage.getItem(key);
        if (raw !== null) {
          const parsed = parseState(raw);
          if (parsed) return parsed;
          // Corrupt data would break every reload; drop it.
          try {
            storage.removeItem(key);
          } catch {
            /* ignore */
          }
        }
      } catch {
        /* storage unavailable: use memory below */
      }
    }
    if (memory) return memory;
    memory = freshState();
    return memory;
  }

  function save(state) {
    const toSave = {
      conversationId: state.conversationId,
      // Failure notices and unanswered messages are transient; replaying them
      // after a reload would mislead.
      messages: state.messages
        .filter((m) => (m.from === 'bot' || m.from === 'user') && !m.pending)
        .map(({ pending, ...m }) => m)
        .slice(-MAX_SAVED_MESSAGES),
      open: state.open === true,
    };
    if (LANGUAGES.includes(state.language)) toSave.language = state.language;
    memory = toSave;
    if (!storage) return;
    try {
      storage.setItem(key, JSON.stringify(toSave));
    } catch {
      /* quota or disabled storage: the memory copy keeps this page working */
    }
  }

  function clear() {
    memory = null;
    if (!storage) return;
    try {
      storage.removeItem(key);
    } catch {
      /* ignore */
    }
  }

  /** "Start over": forget everything and begin a new conversation id (in `language`, if given). */
  function startOver({ open = true, language } = {}) {
    clear();
    const state = { ...freshState(language), open };
    save(state);
    return state;
  }

  return { load, save, clear, startOver };
}
