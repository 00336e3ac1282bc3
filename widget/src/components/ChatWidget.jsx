import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { MainContainer, Message, MessageList, TypingIndicator } from '../ui-kit.js';
import { fetchWidgetConfig } from '../api.js';
import { activeRepliesFrom, useChat } from '../useChat.js';
import { Composer } from './Composer.jsx';
import { QuickReplies } from './QuickReplies.jsx';
import { BotMessageContent, NoticeContent, UserMessageContent } from './MessageContent.jsx';

const PANEL_ID = 'clinic-chat-panel';
export const FEEDBACK_PAYLOAD = '/feedback_negative';
const FEEDBACK_TEXT = 'That did not help';
const TITLE_ID = 'clinic-chat-title';

function originOf(base) {
  try {
    return new URL(base).origin;
  } catch {
    return '';
  }
}

/**
 * @param {{settings: {base: string, phone: string, title: string},
 *          store: ReturnType<import('../storage.js').createStore>,
 *          fetchImpl?: typeof fetch}} props
 */
export function ChatWidget({ settings, store, fetchImpl }) {
  const [display, setDisplay] = useState({ title: settings.title, phone: settings.phone });
  const { conv, busy, announcement, send, setOpen, startOver } = useChat({
    store,
    base: settings.base,
    phone: display.phone,
    fetchImpl,
  });
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
        setDisplay({ title: cfg.title || settings.title, phone: cfg.phone || settings.phone });
      })
      .catch(() => {
        /* keep the script-tag / built-in fallbacks */
      });
    return () => {
      cancelled = true;
    };
  }, [settings.base, settings.title, settings.phone, fetchImpl]);

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
    conv.messages[i].from === 'bot' &&
    Boolean(conv.messages[i].text) &&
    conv.messages[repliesFrom - 1].text !== FEEDBACK_TEXT; // not under the reply to the feedback itself
  const sendFeedback = useCallback(() => {
    send(FEEDBACK_PAYLOAD, FEEDBACK_TEXT);
    if (inputRef.current) inputRef.current.focus();
  }, [send]);

  return (
    <div className="cc-widget">
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
          <h2 id={TITLE_ID} className="cc-title">
            {display.title}
          </h2>
          <button
            type="button"
            className="cc-header-button cc-start-over"
            data-testid="chat-start-over"
            onClick={handleStartOver}
          >
            Start over
          </button>
          <button
            type="button"
            className="cc-header-button cc-close"
            aria-label="Close chat"
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

        <MainContainer className="cc-main">
          <MessageList
            ref={listRef}
            className="cc-list"
            typingIndicator={
              busy ? (
                <TypingIndicator data-testid="chat-typing" content="The assistant is typing…" />
              ) : undefined
            }
          >
            {conv.messages.map((m, i) =>
              renderMessage(m, i >= repliesFrom, busy, replyWith, serverOrigin, feedbackOn(i) ? sendFeedback : null),
            )}
          </MessageList>
        </MainContainer>

        <Composer value={draft} onChange={setDraft} onSubmit={submitDraft} inputRef={inputRef} />
      </div>

      <button
        ref={launcherRef}
        type="button"
        className={conv.open ? 'cc-launcher cc-launcher--open' : 'cc-launcher'}
        data-testid="chat-launcher"
        aria-label="Open chat with the clinic assistant"
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
function renderMessage(m, repliesActive, busy, onReply, serverOrigin, onFeedback) {
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
        {hasBubble ? <BotMessageContent message={m} serverOrigin={serverOrigin} /> : null}
      </Message.CustomContent>
      {showReplies || onFeedback ? (
        <Message.Footer className="cc-replies-footer">
          {showReplies ? <QuickReplies buttons={m.buttons} busy={busy} onReply={onReply} /> : null}
          {onFeedback ? (
            <button
              type="button"
              className="cc-feedback"
              data-testid="feedback-negative"
              aria-label="Not helpful: this answer did not help"
              aria-disabled={busy ? 'true' : undefined}
              onClick={() => {
                if (!busy) onFeedback();
              }}
            >
              Not helpful
            </button>
          ) : null}
        </Message.Footer>
      ) : null}
    </Message>
  );
}
