"""Whether a message is a general question rather than someone's symptom.

"Can PRP cause a fever?" or "how long will my leg be numb after the block?" names a red-flag
word without describing an emergency; rules marked `unless_generic` stay quiet on such messages.
"Is fever a side effect? I have 101 since my injection" tells a person's own situation and is
not general. The word lists come from red_flags.yml, so clinicians review them with the rules.
"""

from __future__ import annotations

from typing import Callable, List, Set

from bot.nlu.red_flag_rules import RuleSet

# "can I ...?" asks about the future, it does not tell the asker's situation
_ASKING_VERBS = ("can", "will", "would", "could", "should", "do", "may", "might")
# "¿la inyección puede ...?": a treatment, then (within a few words) one of these
_SPANISH_CAN = frozenset({"puede", "pueden", "podria", "podrian", "deja", "dejan"})
_ARTICLES = frozenset({"el", "la", "los", "las", "un", "una", "the", "a", "an"})


class GeneralQuestions:
    """Tells general questions apart, from the rule set's word lists.

    Args:
        rule_set: gives generic cues, person words, question openers, course questions, and
            treatment-question subjects.
        lemma: the normal form of a correctly spelled word (cues and person words are compared
            in normal form as well).
    """

    def __init__(self, rule_set: RuleSet, lemma: Callable[[str], str]) -> None:
        self._generic_cues = frozenset(map(lemma, rule_set.generic_cues))
        # Person words meet their other forms ("kid" / "kids"), except Spanish verb forms: "tengo"
        # (I have) tells a person's situation, "tiene" (has, as in "¿la pierna se siente...?") not.
        is_spanish = getattr(lemma, "is_spanish", lambda word: False)
        self._person_words = rule_set.person_words | frozenset(
            lemma(word) for word in rule_set.person_words if lemma(word) == word or not is_spanish(word)
        )
        self._question_openers = rule_set.question_openers
        self._course_questions = rule_set.course_questions
        self._subject_questions = rule_set.subject_questions
        self._question_subjects = rule_set.question_subjects

    def is_general(self, words: List[str], lemmas: List[str], present: Set[str]) -> bool:
        """`words`/`lemmas` with sentinels, as `WordNormalizer.normal_forms` gives them;
        `present` is every word and lemma of the message."""
        return (
            self._opens_course_question(words)
            or self._asks_about_a_treatment(words, lemmas)
            or (
                (bool(present & self._generic_cues) or self._opens_question(words))
                and not self._has_person(words, lemmas)
            )
        )

    def _opens_course_question(self, words: List[str]) -> bool:
        """ "How long will my leg be numb?": a question about the expected course, whoever asks."""
        content = " ".join(word for word in words[1:8] if word.isalnum())
        return any(content.startswith(opener) for opener in self._course_questions)

    def _opens_question(self, words: List[str]) -> bool:
        """Starts like a question ("can PRP ...", "¿es ..."), not like "can't" or "cannot"."""
        content = [word for word in words[1:-1] if word.isalnum() or "'" in word]
        return (
            len(content) > 1
            and content[0] in self._question_openers
            and content[1] not in ("not", "n't", "nt")
        )

    def _asks_about_a_treatment(self, words: List[str], lemmas: List[str]) -> bool:
        """ "Can the RFA make my leg numb?", "¿la ablación puede dejar la pierna dormida?": a general
        question even with "my" in it, unless a person's own situation follows the question
        ("... ? I can't feel my leg since yesterday")."""
        content = [word for word in words[1:-1] if word.isalnum()]
        if len(content) < 2:
            return False
        if content[0] in self._subject_questions and content[1] in self._question_subjects:
            asked = True
        else:
            # Spanish order: [article] treatment [up to two words] puede|deja ... ? (not "puede que")
            first = 1 if content[0] in _ARTICLES else 0
            following = content[first + 1 :] + [""]
            asked = (
                "?" in words
                and content[first] in self._question_subjects
                and content[first] not in _ARTICLES
                and any(
                    word in _SPANISH_CAN and following[i + 1] not in ("que", "ser")
                    for i, word in enumerate(following[:3])
                )
            )
        if not asked or "?" not in words:
            return asked
        after = words.index("?")
        return not self._has_person(words[after:], lemmas[after:])

    def _has_person(self, words: List[str], lemmas: List[str]) -> bool:
        """Someone's own situation is told: "my", "I have", "mi", "tengo" (not "can I ...?")."""
        for position, (word, lemma) in enumerate(zip(words, lemmas, strict=False)):
            if word == "i" and lemmas[position - 1] in _ASKING_VERBS:
                continue
            if word in self._person_words or lemma in self._person_words:
                return True
        return False
