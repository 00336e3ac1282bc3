// Conversation state and the send/greet/start-over logic, kept out of the
// components so the UI stays declarative.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ChatApiError, sendMessage } from './api.js';
import { toPlainText } from './format.jsx';

export const GREET_MESSAGE = '/greet';

export function unreachableNotice(phone) {
  return `Sorry, I can't reach the clinic assistant right now. If this is an emergency, call 911. Otherwise please call the clinic at ${phone}, or try again.`;
}

export function badRequestNotice(serverMessage) {
  const detail = serverMessage ? ` (${serverMessage})` : '';
  return `Sorry, that message could not be processed${detail}. Please rephrase it and try again.`;
}

let seq = 0;
const nextId = () => `m${Date.now().toString(36)}${(seq++).toString(36)}`;

/**
 * Index of the first message whose quick replies may still be used: replies
 * count only if no user message follows them.
 */
export function activeRepliesFrom(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].from === 'user') return i + 1;
  }
  return 0;
}

export function useChat({ store, base, phone, fetchImpl }) {
  const [conv, setConv] = useState(() => store.load());
  const [busy, setBusy] = useState(false);
  const [announcement, setAnnouncement] = useState({ id: 0, text: '' });

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
   * it, e.g. for /greet). Resolves to {ok} so the caller can restore input.
   */
  const send = useCallback(
    async (message, display) => {
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
          fetchImpl,
          signal: controller.signal,
        });
        if (convIdRef.current !== convId) return { ok: false, reason: 'stale' };
        const botMsgs = replies.map((r) => ({ id: nextId(), from: 'bot', ...r }));
        setConv((c) => ({
          ...c,
          messages: [
            ...c.messages.map((m) => (userMsg && m.id === userMsg.id ? { ...m, pending: false } : m)),
            ...botMsgs,
          ],
        }));
        announce(
          botMsgs
            .map((m) => toPlainText(m.text || (m.image ? 'The assistant sent an image.' : '')))
            .filter(Boolean)
            .join(' '),
        );
        return { ok: true };
      } catch (err) {
        if (convIdRef.current !== convId) return { ok: false, reason: 'stale' };
        const text =
          err instanceof ChatApiError && err.kind === 'bad-request'
            ? badRequestNotice(err.message)
            : unreachableNotice(phoneRef.current);
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

  const setOpen = useCallback((open) => setConv((c) => ({ ...c, open })), []);

  const startOver = useCallback(() => {
    if (abortRef.current) abortRef.current.abort();
    abortRef.current = null;
    busyRef.current = false;
    setBusy(false);
    const next = store.startOver({ open: true });
    convIdRef.current = next.conversationId;
    greetedRef.current = null;
    setConv(next);
  }, [store]);

  // First open of a conversation with no history: greet silently.
  useEffect(() => {
    if (!conv.open || conv.messages.length > 0) return;
    if (greetedRef.current === conv.conversationId) return;
    greetedRef.current = conv.conversationId;
    send(GREET_MESSAGE, null);
  }, [conv.open, conv.messages.length, conv.conversationId, send]);

  return { conv, busy, announcement, send, setOpen, startOver };
}
