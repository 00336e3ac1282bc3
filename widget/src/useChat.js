// Conversation state and the send/greet/start-over/language logic, kept out
// of the components so the UI stays declarative.
//
// Language contract with the bot: a greeting the widget asks for (first open,
// "Start over", or the EN/ES toggle) is the REST message "/greet" with
// `metadata: {"language_choice": "en"|"es"}`. Nothing else carries a
// language_choice: typed text, quick replies and feedback have no metadata.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ChatApiError, sendMessage } from './api.js';
import { toPlainText } from './format.jsx';
import { LANGUAGE_CHOICE_KEY, messagesFor, normalizeLanguage } from './i18n.js';

export const GREET_MESSAGE = '/greet';

/** The metadata of a greeting that asks the bot to speak `language`. */
export function languageMetadata(language) {
  return { [LANGUAGE_CHOICE_KEY]: language };
}

let seq = 0;
const nextId = () => `m${Date.now().toString(36)}${(seq++).toString(36)}`;

/**
 * Index of the first message whose quick replies may still be used: replies
 * count only if no user message follows them, and no later greeting (a
 * greeting asked for silently, e.g. by the language toggle, starts a new turn).
 */
export function activeRepliesFrom(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].from === 'user') return i + 1;
    if (messages[i].newTurn && i > 0) return i;
  }
  return 0;
}

/**
 * @param {{store: object, base: string, phone: string, fetchImpl?: typeof fetch,
 *          defaultLanguage: 'en'|'es'}} opts  defaultLanguage is used when the
 *   stored conversation has no language of its own.
 */
export function useChat({ store, base, phone, fetchImpl, defaultLanguage }) {
  const [conv, setConv] = useState(() => {
    const loaded = store.load();
    return loaded.language ? loaded : { ...loaded, language: normalizeLanguage(defaultLanguage) || 'en' };
  });
  const [busy, setBusy] = useState(false);
  const [announcement, setAnnouncement] = useState({ id: 0, text: '' });
  const languageRef = useRef(conv.language);
  languageRef.current = conv.language;
  // The language the bot was last asked for in this conversation (null: not
  // asked, or the request failed). A restored conversation already has one.
  const requestedLanguageRef = useRef(conv.messages.length > 0 ? conv.language : null);
  // A language chosen while another request was in flight; sent right after it.
  const pendingLanguageRef = useRef(null);

  const busyRef = useRef(false);
  const convIdRef = useRef(conv.conversationId);
  const abortRef = useRef(null);
  const greetedRef = useRef(null);
  const phoneRef = useRef(phone);
  phoneRef.current = phone;

  useEffect(() => {
    store.save(conv);
  }, [conv, store]);

  const announce = useCallback((text) => {
    if (text) setAnnouncement((a) => ({ id: a.id + 1, text }));
  }, []);

  /**
   * Send `message` to the bot. `display` is the user bubble text (null hides
   * it, e.g. for /greet); `metadata` goes with it if given. Resolves to {ok}
   * so the caller can restore input.
   */
  const send = useCallback(
    async (message, display, metadata) => {
      if (busyRef.current) return { ok: false, reason: 'busy' };
      busyRef.current = true;
      setBusy(true);
      const convId = convIdRef.current;
      const controller = new AbortController();
      abortRef.current = controller;

      const userMsg =
        display == null ? null : { id: nextId(), from: 'user', text: display, pending: true };
      if (userMsg) setConv((c) => ({ ...c, messages: [...c.messages, userMsg] }));

      try {
        const replies = await sendMessage({
          base,
          sender: convId,
          message,
          metadata,
          fetchImpl,
          signal: controller.signal,
        });
        if (convIdRef.current !== convId) return { ok: false, reason: 'stale' };
        const botMsgs = replies.map((r, i) => ({
          id: nextId(),
          from: 'bot',
          ...r,
          // Replies to a silent request (no user bubble) start a turn of their own.
          ...(i === 0 && !userMsg ? { newTurn: true } : {}),
        }));
        setConv((c) => ({
          ...c,
          messages: [
            ...c.messages.map((m) => (userMsg && m.id === userMsg.id ? { ...m, pending: false } : m)),
            ...botMsgs,
          ],
        }));
        announce(
          botMsgs
            .map((m) =>
              toPlainText(m.text || (m.image ? messagesFor(languageRef.current).imageAnnouncement : '')),
            )
            .filter(Boolean)
            .join(' '),
        );
        return { ok: true };
      } catch (err) {
        if (convIdRef.current !== convId) return { ok: false, reason: 'stale' };
        const strings = messagesFor(languageRef.current);
        const text =
          err instanceof ChatApiError && err.kind === 'bad-request'
            ? strings.badRequest(err.message)
            : strings.unreachable(phoneRef.current);
        // The message never reached the bot: take the bubble back out.
        setConv((c) => ({
          ...c,
          messages: [
            ...c.messages.filter((m) => !userMsg || m.id !== userMsg.id),
            { id: nextId(), from: 'notice', text },
          ],
        }));
        announce(text);
        return { ok: false, reason: 'error' };
      } finally {
        if (abortRef.current === controller) abortRef.current = null;
        if (convIdRef.current === convId) {
          busyRef.current = false;
          setBusy(false);
        }
      }
    },
    [announce, base, fetchImpl],
  );

  /** Silent "/greet" asking the bot to speak `language`. */
  const greet = useCallback(
    async (language) => {
      requestedLanguageRef.current = language;
      const result = await send(GREET_MESSAGE, null, languageMetadata(language));
      // Failed or refused: the bot did not switch, so a later request must be sent again.
      if (!result.ok && result.reason !== 'stale' && requestedLanguageRef.current === language) {
        requestedLanguageRef.current = null;
        if (result.reason === 'busy' && !pendingLanguageRef.current) pendingLanguageRef.current = language;
      }
      return result;
    },
    [send],
  );

  const setOpen = useCallback((open) => setConv((c) => ({ ...c, open })), []);

  /**
   * The EN/ES toggle: the UI switches at once; the bot is asked to switch too
   * (now, or as soon as the request in flight is answered). Choosing the
   * current language again only re-sends if the last request failed.
   */
  const setLanguage = useCallback(
    (value) => {
      const language = normalizeLanguage(value);
      if (!language) return;
      if (language !== languageRef.current) {
        languageRef.current = language;
        setConv((c) => ({ ...c, language }));
      }
      if (busyRef.current) {
        pendingLanguageRef.current = language;
      } else if (requestedLanguageRef.current !== language) {
        greet(language);
      }
    },
    [greet],
  );

  useEffect(() => {
    if (busy || busyRef.current) return;
    const language = pendingLanguageRef.current;
    if (!language) return;
    pendingLanguageRef.current = null;
    if (requestedLanguageRef.current !== language) greet(language);
  }, [busy, greet]);

  const startOver = useCallback(() => {
    if (abortRef.current) abortRef.current.abort();
    abortRef.current = null;
    busyRef.current = false;
    setBusy(false);
    pendingLanguageRef.current = null;
    requestedLanguageRef.current = null;
    const next = store.startOver({ open: true, language: languageRef.current });
    convIdRef.current = next.conversationId;
    greetedRef.current = null;
    setConv(next);
  }, [store]);

  // First open of a conversation with no history: greet silently, in the
  // conversation's language.
  useEffect(() => {
    if (!conv.open || conv.messages.length > 0) return;
    if (greetedRef.current === conv.conversationId) return;
    greetedRef.current = conv.conversationId;
    greet(languageRef.current);
  }, [conv.open, conv.messages.length, conv.conversationId, greet]);

  return { conv, busy, announcement, send, setOpen, startOver, setLanguage };
}
