// Safe formatter for bot text. It builds React elements directly, so any
// markup in the text (e.g. "<img onerror=...>") is escaped by React and shown
// literally. Only a tiny, fixed vocabulary is recognised:
//   **bold**, "- " / "• " bullet lines, "1. " numbered lines,
//   bare http(s) URLs, line breaks.

const BULLET_RE = /^\s*[-•]\s+(.*)$/;
const NUMBERED_RE = /^\s*(\d{1,4})[.)]\s+(.*)$/;
const BOLD_RE = /\*\*([^*]+?)\*\*/g;
const URL_RE = /https?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCT = /[.,;:!?'"\]}*>]$/;

/** Return a safe absolute http(s) href, or null. */
export function safeHref(candidate) {
  try {
    const url = new URL(candidate);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    return url.href;
  } catch {
    return null;
  }
}

function count(str, ch) {
  return str.split(ch).length - 1;
}

// "See https://x.org/a." should not link the final dot; a closing paren is
// kept only when the URL itself opened one (e.g. Wikipedia links).
function trimUrl(raw) {
  let url = raw;
  for (;;) {
    if (TRAILING_PUNCT.test(url)) {
      url = url.slice(0, -1);
    } else if (url.endsWith(')') && count(url, '(') < count(url, ')')) {
      url = url.slice(0, -1);
    } else {
      return url;
    }
  }
}

function linkify(text, keyPrefix) {
  const out = [];
  let last = 0;
  let i = 0;
  URL_RE.lastIndex = 0;
  let m;
  while ((m = URL_RE.exec(text)) !== null) {
    const urlText = trimUrl(m[0]);
    const href = safeHref(urlText);
    if (!href) continue;
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(
      <a key={`${keyPrefix}a${i++}`} href={href} target="_blank" rel="noopener noreferrer">
        {urlText}
      </a>,
    );
    last = m.index + urlText.length;
    URL_RE.lastIndex = last;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Inline formatting for one line: bold spans, then links inside each span. */
export function formatInline(line, keyPrefix = '') {
  const out = [];
  let last = 0;
  let i = 0;
  BOLD_RE.lastIndex = 0;
  let m;
  while ((m = BOLD_RE.exec(line)) !== null) {
    if (m.index > last) out.push(...linkify(line.slice(last, m.index), `${keyPrefix}t${i}`));
    out.push(<strong key={`${keyPrefix}b${i}`}>{linkify(m[1], `${keyPrefix}b${i}`)}</strong>);
    i++;
    last = m.index + m[0].length;
  }
  if (last < line.length) out.push(...linkify(line.slice(last), `${keyPrefix}t${i}`));
  return out;
}

/** Group lines into paragraphs and lists. Pure data; exported for tests. */
export function toBlocks(text) {
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let current = null;
  const close = () => {
    if (current) blocks.push(current);
    current = null;
  };
  for (const line of lines) {
    const bullet = BULLET_RE.exec(line);
    const numbered = bullet ? null : NUMBERED_RE.exec(line);
    if (bullet) {
      if (!current || current.type !== 'ul') {
        close();
        current = { type: 'ul', items: [] };
      }
      current.items.push(bullet[1]);
    } else if (numbered) {
      if (!current || current.type !== 'ol') {
        close();
        current = { type: 'ol', start: Number(numbered[1]), items: [] };
      }
      current.items.push(numbered[2]);
    } else if (line.trim() === '') {
      close();
    } else {
      if (!current || current.type !== 'p') {
        close();
        current = { type: 'p', items: [] };
      }
      current.items.push(line);
    }
  }
  close();
  return blocks;
}

/** Turn bot text into React elements (never HTML strings). */
export function formatBotText(text) {
  return toBlocks(text).map((block, bi) => {
    const k = `k${bi}`;
    if (block.type === 'ul' || block.type === 'ol') {
      const items = block.items.map((item, ii) => (
        <li key={`${k}i${ii}`}>{formatInline(item, `${k}i${ii}`)}</li>
      ));
      return block.type === 'ul' ? (
        <ul key={k}>{items}</ul>
      ) : (
        <ol key={k} start={block.start !== 1 ? block.start : undefined}>
          {items}
        </ol>
      );
    }
    const children = [];
    block.items.forEach((line, li) => {
      if (li > 0) children.push(<br key={`${k}br${li}`} />);
      children.push(...formatInline(line, `${k}l${li}`));
    });
    return <p key={k}>{children}</p>;
  });
}

/** Plain text for the screen-reader live region (markers stripped). */
export function toPlainText(text) {
  return String(text ?? '').replace(BOLD_RE, '$1').replace(/\s+/g, ' ').trim();
}
