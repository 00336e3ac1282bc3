import { describe, expect, it } from 'vitest';
import { renderToStaticMarkup } from 'react-dom/server';
import { formatBotText, safeHref, toBlocks, toPlainText } from '../src/format.jsx';

const html = (text) => renderToStaticMarkup(<div>{formatBotText(text)}</div>);

describe('formatBotText', () => {
  it('renders **bold** as <strong>', () => {
    expect(html('PRP is **not** a cure')).toBe('<div><p>PRP is <strong>not</strong> a cure</p></div>');
  });

  it('leaves unmatched asterisks alone', () => {
    expect(html('5 * 3 and **open')).toBe('<div><p>5 * 3 and **open</p></div>');
  });

  it('turns "- " and "• " lines into a bullet list', () => {
    expect(html('Options:\n- Rest\n• Physio')).toBe(
      '<div><p>Options:</p><ul><li>Rest</li><li>Physio</li></ul></div>',
    );
  });

  it('turns "1. " lines into a numbered list', () => {
    expect(html('1. Call us\n2. Bring **scans**')).toBe(
      '<div><ol><li>Call us</li><li>Bring <strong>scans</strong></li></ol></div>',
    );
  });

  it('keeps the starting number of a numbered list', () => {
    expect(html('3. third\n4. fourth')).toContain('<ol start="3">');
  });

  it('preserves line breaks and splits paragraphs on blank lines', () => {
    expect(html('line one\nline two\n\nnew para')).toBe(
      '<div><p>line one<br/>line two</p><p>new para</p></div>',
    );
    expect(html('a\r\nb')).toBe('<div><p>a<br/>b</p></div>');
  });

  it('links bare http(s) URLs safely and trims trailing punctuation', () => {
    const out = html('See https://example.org/prp. Or http://x.org/a_(b)');
    expect(out).toContain(
      '<a href="https://example.org/prp" target="_blank" rel="noopener noreferrer">https://example.org/prp</a>.',
    );
    expect(out).toContain('<a href="http://x.org/a_(b)" target="_blank" rel="noopener noreferrer">');
  });

  it('links URLs inside bold text and list items', () => {
    const out = html('- **Book: https://clinic.example/book**');
    expect(out).toContain('<li><strong>Book: <a href="https://clinic.example/book"');
  });

  it('does not link javascript:, data: or other schemes', () => {
    for (const text of [
      'javascript:alert(1)',
      'click javascript:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      'ftp://files.example.org',
      '[x](javascript:alert(1))',
    ]) {
      const out = html(text);
      expect(out).not.toContain('<a');
      expect(out).not.toContain('href');
    }
  });

  it('does not let a URL break out of the href attribute', () => {
    const out = html('https://evil.example/"onmouseover="alert(1)');
    expect(out).not.toContain('" onmouseover');
    expect(out).not.toMatch(/<a[^>]+onmouseover/);
  });

  it('renders HTML/XSS payloads as text', () => {
    const payloads = [
      '<img src=x onerror=alert(1)>',
      '<script>alert(1)</script>',
      '**<img src=x onerror=alert(1)>**',
      '- <svg onload=alert(1)>',
      'https://example.org/<img src=x onerror=alert(1)>',
    ];
    for (const p of payloads) {
      const out = html(p);
      expect(out).not.toMatch(/<(img|script|svg)/i);
      expect(out).toMatch(/&lt;(img|script|svg)/);
    }
    expect(html('<img src=x onerror=alert(1)>')).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('handles empty and non-string input', () => {
    expect(formatBotText('')).toEqual([]);
    expect(formatBotText(undefined)).toEqual([]);
  });
});

describe('helpers', () => {
  it('safeHref accepts only http and https', () => {
    expect(safeHref('https://a.org/x')).toBe('https://a.org/x');
    expect(safeHref('http://a.org')).toBe('http://a.org/');
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('JaVaScRiPt:alert(1)')).toBeNull();
    expect(safeHref('data:text/html,x')).toBeNull();
    expect(safeHref('/relative')).toBeNull();
  });

  it('toBlocks groups lines', () => {
    expect(toBlocks('a\n- b\n- c\nd').map((b) => b.type)).toEqual(['p', 'ul', 'p']);
  });

  it('toPlainText strips bold markers for screen readers', () => {
    expect(toPlainText('Hi **there**\n- one')).toBe('Hi there - one');
  });
});
