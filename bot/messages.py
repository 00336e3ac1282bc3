"""The sentences Python code sends patients, in English and Spanish, chosen by the conversation's
reply language (the `language` slot; bot/language.py).

Each module that talks to patients declares its own table next to the code that uses it:

    TEXTS = Messages("clarify", {"rephrase": {"en": "Sorry, ...", "es": "Disculpe, ..."}})
    TEXTS("rephrase", language)          # or message("clarify.rephrase", language)

Why tables in the modules rather than a YAML file: tests/test_responses.py lints every text a
patient can get by reading the Python sources (no cure/guarantee claims, 911 in every fallback);
texts kept in Python literals stay under that lint in both languages, and the English stays next
to the code that sends it. Every table registers itself here, so tests/test_messages.py checks
them all: both languages present, the same placeholders in each, Spanish lint and 911 sentences.

Placeholders are str.format fields (`{phone}`); values are inserted as they are, never formatted.
"""

from __future__ import annotations

import string
import sys
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

from bot.language import DEFAULT_LANGUAGE, ENGLISH, LANGUAGES, SPANISH

LANGUAGE_SLOT = "language"
LANGUAGE_NAMES = {ENGLISH: "English", SPANISH: "Spanish"}

_TABLES: Dict[str, "Messages"] = {}


def reply_language(value: Any) -> str:
    """'es' or 'en' from a slot value or a guess; anything else (None, "fr", garbage) is English."""
    if isinstance(value, str) and value.strip().lower() in LANGUAGES:
        return value.strip().lower()
    return DEFAULT_LANGUAGE


def tracker_language(tracker: Any) -> str:
    """The conversation's reply language from a rasa-sdk (or Rasa) tracker's `language` slot."""
    try:
        return reply_language(tracker.get_slot(LANGUAGE_SLOT))
    except Exception:  # a tracker without slots (or a stand-in): the default language
        return DEFAULT_LANGUAGE


def placeholders(template: str) -> frozenset:
    """The str.format fields of a text: "Call {phone}." -> {"phone"}."""
    return frozenset(field for _, field, _, _ in string.Formatter().parse(template) if field)


class Messages:
    """One module's texts: {key: {"en": ..., "es": ...}}, checked when the module is imported."""

    def __init__(self, namespace: str, texts: Mapping[str, Mapping[str, str]]) -> None:
        for key, versions in texts.items():
            missing = [lang for lang in LANGUAGES if not str(versions.get(lang) or "").strip()]
            if missing:
                raise ValueError(f"{namespace}.{key} has no text in {', '.join(missing)}")
            fields = {lang: placeholders(versions[lang]) for lang in LANGUAGES}
            if len(set(fields.values())) != 1:
                raise ValueError(f"{namespace}.{key}: the languages use different placeholders {fields}")
        self.namespace = namespace
        self._texts = {key: dict(versions) for key, versions in texts.items()}
        # The module declaring the table: a module reloaded (the action server's --auto-reload)
        # replaces its own table, another module may not take its name.
        self.module = sys._getframe(1).f_globals.get("__name__", "")
        known = _TABLES.get(namespace)
        if known is not None and known.module != self.module:
            raise ValueError(f"{known.module} and {self.module} both name a message table {namespace!r}")
        _TABLES[namespace] = self

    def __call__(self, key: str, language: Optional[str] = None, **values: Any) -> str:
        """The text in `language` (English if unknown), its placeholders filled from `values`."""
        template = self._texts[key][reply_language(language)]
        return template.format(**values) if values or placeholders(template) else template

    def en(self, key: str, **values: Any) -> str:
        return self(key, ENGLISH, **values)

    def both(self, key: str, **values: Any) -> str:
        """English, then Spanish: for a message whose language is unknown and must be understood."""
        return f"{self(key, ENGLISH, **values)}\n\n{self(key, SPANISH, **values)}"

    def keys(self) -> Tuple[str, ...]:
        return tuple(self._texts)

    def versions(self, key: str) -> Dict[str, str]:
        """The raw templates of one key, by language."""
        return dict(self._texts[key])


def message(key: str, language: Optional[str] = None, **values: Any) -> str:
    """A text by its full key ("clarify.rephrase"), in `language`."""
    namespace, _, name = key.partition(".")
    return _TABLES[namespace](name, language, **values)


def all_texts() -> Iterator[Tuple[str, str, str]]:
    """(full key, language, template) for every registered text (the modules must be imported)."""
    for namespace, table in sorted(_TABLES.items()):
        for key in table.keys():  # noqa: SIM118 - a Messages table, not a dict
            for language, template in table.versions(key).items():
                yield f"{namespace}.{key}", language, template
