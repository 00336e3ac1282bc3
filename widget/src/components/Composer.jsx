import { useLayoutEffect } from 'react';

const MAX_INPUT_HEIGHT = 120;
export const MAX_MESSAGE_LENGTH = 1000;

/**
 * `strings` is the i18n catalog of the language shown (src/i18n.js).
 * Our own textarea instead of chatscope's contenteditable MessageInput: it is
 * plain text by construction and behaves predictably with keyboards and
 * assistive technology. Enter sends, Shift+Enter inserts a newline.
 */
export function Composer({ value, onChange, onSubmit, inputRef, strings }) {
  // Grow with the text up to a limit, then scroll.
  useLayoutEffect(() => {
    const el = inputRef.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight || 0, MAX_INPUT_HEIGHT) || 40}px`;
  }, [value, inputRef]);

  return (
    <form
      className="cc-composer"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      <textarea
        ref={inputRef}
        className="cc-input"
        data-testid="chat-input"
        aria-label={strings.inputLabel}
        placeholder={strings.inputPlaceholder}
        rows={1}
        maxLength={MAX_MESSAGE_LENGTH}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onKeyDown={(e) => {
          // isComposing: Enter that confirms an IME candidate must not send.
          if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            onSubmit();
          }
        }}
      />
      <button type="submit" className="cc-send" data-testid="chat-send" aria-label={strings.sendLabel}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
          <path fill="currentColor" d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z" />
        </svg>
      </button>
    </form>
  );
}
