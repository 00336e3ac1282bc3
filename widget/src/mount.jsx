import { createRoot } from 'react-dom/client';
import { ChatWidget } from './components/ChatWidget.jsx';
import { detectLanguage } from './i18n.js';
import { createStore } from './storage.js';

export const HOST_ID = 'clinic-chat-root';

/**
 * Attach the widget to `doc.body` inside an open Shadow DOM, so the clinic
 * site's CSS cannot restyle it and ours cannot leak onto the site.
 * Returns null if a widget is already mounted (script included twice).
 * The first language comes from settings.lang (data-lang), else <html lang>,
 * else the browser's languages, else English; a stored conversation keeps its own.
 */
export function mountWidget({
  doc = document,
  settings,
  css = '',
  store = createStore(),
  fetchImpl,
  nav = doc.defaultView ? doc.defaultView.navigator : globalThis.navigator,
}) {
  if (doc.getElementById(HOST_ID)) return null;
  const host = doc.createElement('div');
  host.id = HOST_ID;
  doc.body.appendChild(host);
  const shadow = host.attachShadow({ mode: 'open' });

  const style = doc.createElement('style');
  style.textContent = css;
  shadow.appendChild(style);

  const container = doc.createElement('div');
  container.className = 'cc-root';
  shadow.appendChild(container);

  const defaultLanguage = detectLanguage({ option: settings.lang, doc, nav });
  const root = createRoot(container);
  root.render(
    <ChatWidget settings={settings} store={store} defaultLanguage={defaultLanguage} fetchImpl={fetchImpl} />,
  );
  return {
    host,
    shadow,
    unmount() {
      root.unmount();
      host.remove();
    },
  };
}
