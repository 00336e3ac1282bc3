import { formatBotText, safeHref } from '../format.jsx';

/** Bot bubble body: formatted text plus an optional image. */
export function BotMessageContent({ message, serverOrigin, strings }) {
  return (
    <div className="cc-bot-text" data-testid="bot-message">
      {message.text ? formatBotText(message.text) : null}
      {message.image ? <BotImage src={message.image} serverOrigin={serverOrigin} strings={strings} /> : null}
    </div>
  );
}

// Only images hosted by the bot server are loaded inline; anything else is a
// link, so the widget never makes requests to third parties on its own.
function BotImage({ src: raw, serverOrigin, strings }) {
  const src = safeHref(raw);
  if (!src) return null;
  if (new URL(src).origin === serverOrigin) {
    return <img className="cc-bot-image" src={src} alt={strings.imageAlt} />;
  }
  return (
    <p>
      <a href={src} target="_blank" rel="noopener noreferrer">
        {strings.openImage}
      </a>
    </p>
  );
}

/** User text is always plain text; CSS keeps its line breaks. */
export function UserMessageContent({ text }) {
  return (
    <div className="cc-user-text" data-testid="user-message">
      {text}
    </div>
  );
}

export function NoticeContent({ text }) {
  return (
    <div className="cc-notice-text" data-testid="chat-error">
      {text}
    </div>
  );
}
