import { describe, expect, it } from 'vitest';
import { STORAGE_KEY, createStore, newConversationId, parseState } from '../src/storage.js';

function memoryStorage() {
  const data = new Map();
  return {
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => data.set(k, String(v)),
    removeItem: (k) => data.delete(k),
    data,
  };
}

const throwingStorage = {
  getItem() {
    throw new Error('SecurityError');
  },
  setItem() {
    throw new Error('QuotaExceededError');
  },
  removeItem() {
    throw new Error('SecurityError');
  },
};

const sample = () => ({
  conversationId: 'web-abc',
  open: true,
  messages: [
    { id: '1', from: 'bot', text: 'Hello', buttons: [{ title: 'What is PRP?', payload: '/ask_prp' }] },
    { id: '2', from: 'user', text: 'What is PRP?' },
  ],
});

describe('conversation ids', () => {
  it('are prefixed "web-" and unique', () => {
    const a = newConversationId();
    const b = newConversationId();
    expect(a).toMatch(/^web-[0-9a-f-]{32,36}$/);
    expect(a).not.toBe(b);
  });
});

describe('createStore', () => {
  it('round-trips state through sessionStorage', () => {
    const storage = memoryStorage();
    createStore({ storage }).save(sample());
    expect(JSON.parse(storage.data.get(STORAGE_KEY)).conversationId).toBe('web-abc');
    expect(createStore({ storage }).load()).toEqual(sample());
  });

  it('uses window.sessionStorage by default, not localStorage', () => {
    sessionStorage.clear();
    localStorage.clear();
    createStore().save(sample());
    expect(sessionStorage.getItem(STORAGE_KEY)).not.toBeNull();
    expect(localStorage.length).toBe(0);
    expect(createStore().load().conversationId).toBe('web-abc');
    sessionStorage.clear();
  });

  it('starts fresh when nothing is stored', () => {
    const state = createStore({ storage: memoryStorage() }).load();
    expect(state.conversationId).toMatch(/^web-/);
    expect(state.messages).toEqual([]);
    expect(state.open).toBe(false);
  });

  it('treats corrupt JSON as a fresh state and removes it', () => {
    const storage = memoryStorage();
    storage.setItem(STORAGE_KEY, '{not json');
    const state = createStore({ storage }).load();
    expect(state.messages).toEqual([]);
    expect(state.conversationId).toMatch(/^web-/);
    expect(storage.data.has(STORAGE_KEY)).toBe(false);
  });

  it('rejects well-formed JSON with the wrong shape', () => {
    for (const raw of [
      'null',
      '[]',
      '{"conversationId": 5, "messages": []}',
      '{"conversationId": "web-x", "messages": [{"id": "1", "from": "hacker", "text": "x"}]}',
      '{"conversationId": "web-x", "messages": [{"id": "1", "from": "bot", "buttons": "nope"}]}',
    ]) {
      const storage = memoryStorage();
      storage.setItem(STORAGE_KEY, raw);
      expect(createStore({ storage }).load().messages).toEqual([]);
    }
    expect(parseState('{"conversationId":"web-x","messages":[]}')).toEqual({
      conversationId: 'web-x',
      messages: [],
      open: false,
    });
  });

  it('keeps working in memory when sessionStorage throws', () => {
    const store = createStore({ storage: throwingStorage });
    const first = store.load();
    expect(first.conversationId).toMatch(/^web-/);
    expect(store.load().conversationId).toBe(first.conversationId);
    store.save(sample());
    expect(store.load()).toEqual(sample());
    store.clear();
    expect(store.load().conversationId).not.toBe('web-abc');
  });

  it('works with no storage at all', () => {
    const store = createStore({ storage: null });
    store.save(sample());
    expect(store.load()).toEqual(sample());
  });

  it('does not persist failure notices or unanswered messages', () => {
    const storage = memoryStorage();
    const store = createStore({ storage });
    const state = sample();
    state.messages.push({ id: '3', from: 'notice', text: "Sorry, I can't reach..." });
    state.messages.push({ id: '4', from: 'user', text: 'pending one', pending: true });
    store.save(state);
    const loaded = createStore({ storage }).load();
    expect(loaded.messages.map((m) => m.id)).toEqual(['1', '2']);
  });

  it('saves the conversation language with it and restores it', () => {
    const storage = memoryStorage();
    createStore({ storage }).save({ ...sample(), language: 'es' });
    expect(JSON.parse(storage.data.get(STORAGE_KEY)).language).toBe('es');
    expect(createStore({ storage }).load()).toEqual({ ...sample(), language: 'es' });
    // An unknown language is dropped, the conversation kept.
    expect(parseState(JSON.stringify({ ...sample(), language: 'fr' }))).toEqual(sample());
    createStore({ storage }).save({ ...sample(), language: 'de' });
    expect(JSON.parse(storage.data.get(STORAGE_KEY))).not.toHaveProperty('language');
  });

  it('start over keeps the language it is given', () => {
    const storage = memoryStorage();
    const store = createStore({ storage });
    store.save({ ...sample(), language: 'es' });
    const next = store.startOver({ language: 'es' });
    expect(next.language).toBe('es');
    expect(next.messages).toEqual([]);
    expect(createStore({ storage }).load().language).toBe('es');
  });

  it('start over clears history and gives a new id', () => {
    const storage = memoryStorage();
    const store = createStore({ storage });
    store.save(sample());
    const next = store.startOver();
    expect(next.conversationId).toMatch(/^web-/);
    expect(next.conversationId).not.toBe('web-abc');
    expect(next.messages).toEqual([]);
    expect(next.open).toBe(true);
    expect(createStore({ storage }).load().conversationId).toBe(next.conversationId);
  });
});
