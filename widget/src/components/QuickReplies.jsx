/** Bot-suggested answers as real buttons; the title is what the user sees. */
export function QuickReplies({ buttons, busy, onReply, label }) {
  return (
    <div className="cc-replies" role="group" aria-label={label}>
      {buttons.map((b, i) => (
        <button
          key={`${i}-${b.payload}`}
          type="button"
          className="cc-reply"
          data-testid="quick-reply"
          // aria-disabled (not disabled) while waiting keeps keyboard focus in place.
          aria-disabled={busy ? 'true' : undefined}
          onClick={() => {
            if (!busy) onReply(b);
          }}
        >
          {b.title}
        </button>
      ))}
    </div>
  );
}
