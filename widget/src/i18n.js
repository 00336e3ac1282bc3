// Every string the widget shows or announces, in English and Spanish, and the
// rules that pick the first language. Bot messages are not here: the bot
// answers in the language it is asked for (see useChat.js, language_choice).

export const LANGUAGES = ['en', 'es'];
export const DEFAULT_LANGUAGE = 'en';

/** Each language's name in that language: the toggle's accessible labels. */
export const LANGUAGE_NAMES = { en: 'English', es: 'Español' };

/** What the metadata field of a language request is called (the bot reads it). */
export const LANGUAGE_CHOICE_KEY = 'language_choice';

export const MESSAGES = {
  en: {
    title: 'Spine clinic assistant',
    launcherLabel: 'Open chat with the clinic assistant',
    closeLabel: 'Close chat',
    startOver: 'Start over',
    languageGroupLabel: 'Language',
    inputLabel: 'Type your question',
    inputPlaceholder: 'Type your question…',
    sendLabel: 'Send',
    typing: 'The assistant is typing…',
    suggestedQuestions: 'Suggested questions',
    notHelpful: 'Not helpful',
    notHelpfulLabel: 'Not helpful: this answer did not help',
    // Shown as the patient's own bubble when they press "Not helpful".
    feedbackText: 'That did not help',
    imageAlt: 'Image sent by the clinic assistant',
    openImage: 'Open image',
    imageAnnouncement: 'The assistant sent an image.',
    unreachable: (phone) =>
      phone
        ? `Sorry, I can't reach the clinic assistant right now. If this is an emergency, call 911. Otherwise please call the clinic at ${phone}, or try again.`
        : "Sorry, I can't reach the clinic assistant right now. If this is an emergency, call 911. Otherwise please call the clinic, or try again.",
    badRequest: (serverMessage) =>
      `Sorry, that message could not be processed${serverMessage ? ` (${serverMessage})` : ''}. Please rephrase it and try again.`,
  },
  es: {
    title: 'Asistente de la clínica de columna',
    launcherLabel: 'Abrir el chat con el asistente de la clínica',
    closeLabel: 'Cerrar el chat',
    startOver: 'Empezar de nuevo',
    languageGroupLabel: 'Idioma',
    inputLabel: 'Escriba su pregunta',
    inputPlaceholder: 'Escriba su pregunta…',
    sendLabel: 'Enviar',
    typing: 'El asistente está escribiendo…',
    suggestedQuestions: 'Preguntas sugeridas',
    notHelpful: 'No fue útil',
    notHelpfulLabel: 'No fue útil: esta respuesta no me ayudó',
    feedbackText: 'Eso no me ayudó',
    imageAlt: 'Imagen enviada por el asistente de la clínica',
    openImage: 'Abrir la imagen',
    imageAnnouncement: 'El asistente envió una imagen.',
    unreachable: (phone) =>
      phone
        ? `Lo sentimos, en este momento no podemos comunicarnos con el asistente de la clínica. Si es una emergencia, llame al 911. De lo contrario, llame a la clínica al ${phone} o intente de nuevo.`
        : 'Lo sentimos, en este momento no podemos comunicarnos con el asistente de la clínica. Si es una emergencia, llame al 911. De lo contrario, llame a la clínica o intente de nuevo.',
    // The server's reason for a 400 is in English, so it is left out here.
    badRequest: () =>
      'Lo sentimos, no pudimos procesar ese mensaje. Por favor, escríbalo de otra manera e intente de nuevo.',
  },
};

/** The strings of a language (English for anything unsupported). */
export function messagesFor(language) {
  return MESSAGES[normalizeLanguage(language) || DEFAULT_LANGUAGE];
}

/** "es", "es-US", "ES_419" -> "es"; "en-GB" -> "en"; anything else -> null. */
export function normalizeLanguage(tag) {
  if (typeof tag !== 'string') return null;
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
  return LANGUAGES.includes(primary) ? primary : null;
}

/**
 * The first language: the embedder's option, else the page's <html lang>,
 * else the first supported browser language, else English. A value that is
 * not English or Spanish does not count and the next source is asked.
 * @param {{option?: string|null, pageLang?: string|null, browserLanguages?: readonly string[]}} sources
 * @returns {'en'|'es'}
 */
export function resolveLanguage({ option, pageLang, browserLanguages = [] } = {}) {
  return (
    normalizeLanguage(option) ||
    normalizeLanguage(pageLang) ||
    browserLanguages.map(normalizeLanguage).find(Boolean) ||
    DEFAULT_LANGUAGE
  );
}

/** resolveLanguage with the page's and the browser's values read from `doc` and `nav`. */
export function detectLanguage({ option, doc = globalThis.document, nav = globalThis.navigator } = {}) {
  const root = doc && doc.documentElement;
  const pageLang = root ? root.getAttribute('lang') : null;
  let browserLanguages = [];
  if (nav) {
    if (Array.isArray(nav.languages) && nav.languages.length) browserLanguages = nav.languages;
    else if (nav.language) browserLanguages = [nav.language];
  }
  return resolveLanguage({ option, pageLang, browserLanguages });
}
