// Guard rail: the widget's own code must never inject HTML strings.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', 'src');

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('source safety', () => {
  const sources = files(SRC).filter((f) => /\.(js|jsx)$/.test(f));

  it('finds the sources', () => {
    expect(sources.length).toBeGreaterThan(5);
  });

  it.each(sources.map((f) => [f.slice(SRC.length + 1), f]))('%s has no HTML injection sinks', (_, file) => {
    const code = readFileSync(file, 'utf8');
    for (const sink of ['dangerouslySetInnerHTML', 'innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'localStorage.', 'eval(']) {
      expect(code, `${sink} in ${file}`).not.toContain(sink);
    }
    // chatscope's Message renders model.message as HTML by default.
    expect(code).not.toMatch(/model=\{\{[^}]*message\s*:/);
  });
});
