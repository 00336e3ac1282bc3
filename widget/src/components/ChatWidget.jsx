import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { MainContainer, Message, MessageList, TypingIndicator } from '../ui-kit.js';
import { fetchWidgetConfig } from '../api.js';
import { activeRepliesFrom, useChat } from '../useChat.js';
import { LANGUAGES, LANGUAGE_NAMES, MESSAGES, messagesFor } from '../i18n.js';
import { Composer } from './Composer.jsx';
import { QuickReplies } from './QuickReplies.jsx';
import { BotMessageContent, NoticeContent, UserMessageContent } from './MessageContent.jsx';

const PANEL_ID = 'clinic-chat-panel';
export const FEEDBACK_PAYLOAD = '/feedback_negative';
// The feedback bubble in either language (the history may hold both).
const FEEDBACK_TEXTS = new Set(LANGUAGES.map((l) => MESSAGES[l].feedbackText));
const TITLE_ID = 'clinic-chat-title';

function originOf(base) {
  try {
    return new URL(base).origin;
  } catch {
    return '';
  }
}

/**
 * @param {{settings: {base: string, phone?: string, title?: string, titleEs?: string},
 *          store: ReturnType<import('../storage.js').createStore>,
 *          defaultLanguage?: 'en'|'es',
 *          fetchImpl?: typeof fetch}} props
 */
export function ChatWidget({ settings, store, defaultLanguage = 'en', fetchImpl }) {
  // Title and phone from GET /webhooks/widget/config; empty until it answers.
  const [server, setServer] = useState({ title: '', phone: '' });
  const phone = server.phone || settings.phone || '';
  const { conv, busy, announcement, send, setOpen, startOver, setLanguage } = useChat({
    store,
    base: settings.base,
    phone,
    fetchImpl,
    defaultLanguage,
  });
  const language = conv.language;
  const t = messagesFor(language);
  // The configured titles are per language: the server's and data-title are
  // English, data-title-es is Spanish; otherwise the widget's own title.
  const title =
    language === 'es' ? settings.titleEs || t.title : server.title || settings.title || t.title;
  const [draft, setDraft] = useState('');
  const launcherRef = useRef(null);
  const inputRef = useRef(null);
  const listRef = useRef(null);
  // Where focus should go after the next render ('input' | 'launcher').
  const focusNext = useRef(null);
  const serverOrigin = useMemo(() => originOf(settings.base), [settings.base]);

  useEffect(() => {
    let cancelled = false;
    fetchWidgetConfig({ base: settings.base, fetchImpl })
      .then((cfg) => {
        if (cancelled) return;
        setServer({ title: cfg.title || '', phone: cfg.phone || '' });
      })
      .catch(() => {
        /* keep the script-tag / built-in fallbacks */
      });
    return () => {
      cancelled = true;
    };
  }, [settings.base, fetchImpl]);

  useEffect(() => {
    if (conv.open && listRef.current) listRef.current.scrollToBottom('auto');
    const target = focusNext.current === 'input' ? inputRef : focusNext.current === 'launcher' ? launcherRef : null;
    focusNext.current = null;
    if (target && target.current) target.current.focus();
  }, [conv.open, conv.conversationId]);

  const openPanel = useCallback(() => {
    focusNext.current = 'input';
    setOpen(true);
  }, [setOpen]);

  const closePanel = useCallback(() => {
    focusNext.current = 'launcher';
    setOpen(false);
  }, [setOpen]);

  const handleStartOver = useCallback(() => {
    focusNext.current = 'input';
    setDraft('');
    startOver();
  }, [startOver]);

  const submitDraft = useCallback(async () => {
    const text = draft.trim();
    if (!text || busy) return;
    setDraft('');
    if (inputRef.current) inputRef.current.focus();
    const result = await send(text, text);
    if (!result.ok && result.reason === 'error') {
      // Give the patient their words back instead of losing them.
      setDraft((current) => (current ? `${text} ${current}` : text));
    }
  }, [draft, busy, send]);

  const replyWith = useCallback(
    (button) => {
      send(button.payload, button.title);
      if (inputRef.current) inputRef.current.focus();
    },
    [send],
  );

  const repliesFrom = activeRepliesFrom(conv.messages);
  // "Not helpful" goes under the first answer to the latest question (not under the greeting):
  // clinic staff review those answers (the staff console's inbox).
  const feedbackOn = (i) =>
    repliesFrom > 0 &&
    i === repliesFrom &&
    conv.messages[repliesFrom - 1].from === 'user' && // answers, not greetings
    conv.messages[i].from === 'bot' &&
    Boolean(conv.messages[i].text) &&
    !FEEDBACK_TEXTS.has(conv.messages[repliesFrom - 1].text); // not under the reply to the feedback itself
  const sendFeedback = useCallback(() => {
    send(FEEDBACK_PAYLOAD, t.feedbackText);
    if (inputRef.current) inputRef.current.focus();
  }, [send, t]);

  return (
    <div className="cc-widget" lang={language}>
      <div className="cc-sr-only" aria-live="polite">
        {announcement.text ? <p key={announcement.id}>{announcement.text}</p> : null}
      </div>

      <div
        id={PANEL_ID}
        className="cc-panel"
        role="dialog"
        aria-modal="false"
        aria-labelledby={TITLE_ID}
        data-testid="chat-panel"
        hidden={!conv.open}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.stopPropagation();
            closePanel();
          }
        }}
      >
        <div className="cc-header">
          <div className="cc-header-top">
            <h2 id={TITLE_ID} className="cc-title">
              {title}
            </h2>
            <button
              type="button"
              className="cc-header-button cc-close"
              aria-label={t.closeLabel}
              data-testid="chat-close"
              onClick={closePanel}
            >
              <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
                <path
                  fill="none"
                  stroke="currentColor"
                  strokeWidth="2.5"
                  strokeLinecap="round"
                  d="M6 6l12 12M18 6 6 18"
                />
              </svg>
            </button>
          </div>
          <div className="cc-toolbar">
            <LanguageToggle language={language} label={t.languageGroupLabel} onChoose={setLanguage} />
            <button
              type="button"
              className="cc-header-button cc-start-over"
              data-testid="chat-start-over"
              onClick={handleStartOver}
            >
              {t.startOver}
            </button>
          </div>
        </div>

        <MainContainer className="cc-main">
          <MessageList
            ref={listRef}
            className="cc-list"
            typingIndicator={
              busy ? (
                <TypingIndicator data-testid="chat-typing" content={t.typing} />
              ) : undefined
            }
          >
            {conv.messages.map((m, i) =>
              renderMessage(m, i >= repliesFrom, busy, replyWith, serverOrigin, feedbackOn(i) ? sendFeedback : null, t),
            )}
          </MessageList>
        </MainContainer>

        <Composer value={draft} onChange={setDraft} onSubmit={submitDraft} inputRef={inputRef} strings={t} />
      </div>

      <button
        ref={launcherRef}
        type="button"
        className={conv.open ? 'cc-launcher cc-launcher--open' : 'cc-launcher'}
        data-testid="chat-launcher"
        aria-label={t.launcherLabel}
        aria-expanded={conv.open ? 'true' : 'false'}
        aria-controls={PANEL_ID}
        onClick={conv.open ? closePanel : openPanel}
      >
        <svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">
          <path
            fill="currentColor"
            d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z"
          />
        </svg>
      </button>
    </div>
  );
}

// Content always goes through Message.CustomContent: chatscope's default
// (model.message / type "html") would inject HTML.
function renderMessage(m, repliesActive, busy, onReply, serverOrigin, onFeedback, t) {
  if (m.from === 'user') {
    return (
      <Message key={m.id} className="cc-msg cc-msg-user" model={{ direction: 'outgoing', position: 'single', type: 'custom' }}>
        <Message.CustomContent>
          <UserMessageContent text={m.text} />
        </Message.CustomContent>
      </Message>
    );
  }
  if (m.from === 'notice') {
    return (
      <Message key={m.id} className="cc-msg cc-msg-notice" model={{ direction: 'incoming', position: 'single', type: 'custom' }}>
        <Message.CustomContent>
          <NoticeContent text={m.text} />
        </Message.CustomContent>
      </Message>
    );
  }
  const showReplies = repliesActive && m.buttons && m.buttons.length > 0;
  const hasBubble = Boolean(m.text || m.image);
  // A buttons-only message is just its quick replies; once they expire there is nothing to show.
  if (!hasBubble && !showReplies) return null;
  return (
    <Message key={m.id} className={hasBubble ? 'cc-msg cc-msg-bot' : 'cc-msg cc-msg-bot cc-msg-empty'} model={{ direction: 'incoming', position: 'single', type: 'custom' }}>
      <Message.CustomContent>
        {hasBubble ? <BotMessageContent message={m} serverOrigin={serverOrigin} strings={t} /> : null}
      </Message.CustomContent>
      {showReplies || onFeedback ? (
        <Message.Footer className="cc-replies-footer">
          {showReplies ? (
            <QuickReplies buttons={m.buttons} busy={busy} onReply={onReply} label={t.suggestedQuestions} />
          ) : null}
          {onFeedback ? (
            <button
              type="button"
              className="cc-feedback"
              data-testid="feedback-negative"
              aria-label={t.notHelpfulLabel}
              aria-disabled={busy ? 'true' : undefined}
              onClick={() => {
                if (!busy) onFeedback();
              }}
            >
              {t.notHelpful}
            </button>
          ) : null}
        </Message.Footer>
      ) : null}
    </Message>
  );
}

/**
 * EN/ES switch: two real buttons in a labelled group, the current one
 * aria-pressed. Each shows its name in its own language ("English",
 * "Español"), so a patient finds theirs whatever the current language; the
 * visible text is the accessible name (WCAG 2.5.3, label in name).
 */
function LanguageToggle({ language, label, onChoose }) {
  return (
    <div className="cc-lang" role="group" aria-label={label}>
      {LANGUAGES.map((l) => (
        <button
          key={l}
          type="button"
          lang={l}
          className="cc-lang-button"
          data-testid={`chat-lang-${l}`}
          aria-pressed={language === l ? 'true' : 'false'}
          onClick={() => onChoose(l)}
        >
          {LANGUAGE_NAMES[l]}
        </button>
      ))}
    </div>
  );
}
