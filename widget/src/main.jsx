// Entry of the embeddable bundle (dist/clinic-chat.js).
import chatscopeCss from '@chatscope/chat-ui-kit-styles/dist/default/styles.min.css?inline';
import widgetCss from './styles.css?inline';
import { readScriptSettings } from './config.js';
import { mountWidget } from './mount.jsx';

// Read the <script> tag now: document.currentScript is only set while this
// file is executing, not later when the DOM is ready.
const settings = readScriptSettings(document);

function start() {
  mountWidget({ settings, css: `${chatscopeCss}\n${widgetCss}` });
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start, { once: true });
} else {
  start();
}
