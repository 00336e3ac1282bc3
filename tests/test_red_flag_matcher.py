"""The red-flag matcher: every red flag found, negation respected, typos tolerated."""

from __future__ import annotations

import pytest

from bot.nlu.red_flag_matcher import (
    KNOWN_WORDS_TABLE,
    RedFlagMatcher,
    edit_distance_at_most_one,
    load_rules,
    phrase_to_pattern,
)
from bot.nlu.word_normal import spanish_sound


@pytest.fixture(scope="module")
def matcher(spacy_nlp) -> RedFlagMatcher:
    return RedFlagMatcher.for_pipeline(spacy_nlp)


def flags_in(matcher: RedFlagMatcher, spacy_nlp, text: str) -> set[str]:
    # SpacyNLP lowercases before parsing (case_sensitive: false); do the same here.
    return {flag.flag for flag in matcher.active_flags(spacy_nlp(text.lower()))}


@pytest.mark.parametrize(
    "text, flag",
    [
        ("I lost control of my bladder this morning", "bladder_bowel"),
        ("i peed myself and didnt feel it", "bladder_bowel"),
        ("I can't pee since yesterday and my back is killing me", "bladder_bowel"),
        ("new bowel incontinence with my back pain", "bladder_bowel"),
        ("my groin is numb", "saddle_numbness"),
        ("numbness in my inner thighs and private area", "saddle_numbness"),
        ("numbnes in my grion", "saddle_numbness"),
        ("I can't feel my butt when I sit", "saddle_numbness"),
        ("my legs are getting weaker every day", "leg_weakness"),
        ("my left leg keeps giving out", "leg_weakness"),
        ("I can't walk since this morning", "leg_weakness"),
        ("both legs went numb", "leg_weakness"),
        ("I have a fever and my back pain is terrible", "fever_with_back_pain"),
        ("chills and fever two days after the injection", "fever_with_back_pain"),
        ("feaver and bad back pain", "fever_with_back_pain"),
        ("I fell off a ladder and my back hurts", "trauma"),
        ("my husband fell down the stairs", "trauma"),
        ("I was in a car accident yesterday", "trauma"),
        ("she was hit by a car", "trauma"),
        ("I have chest pain", "chest_or_breathing"),
        ("short of breath and my chest feels tight", "chest_or_breathing"),
        ("I think I'm having a stroke, my face is drooping", "stroke_signs"),
        ("history of breast cancer and new back pain", "cancer_with_back_pain"),
        ("I want to kill myself", "self_harm"),
        ("i dont want to live anymore", "self_harm"),
        ("thinking about suicide", "self_harm"),
        ("sometimes I think about ending it all", "self_harm"),
        ("im not suicidal but I want to die", "self_harm"),
        ("I keep hurting myself on purpose", "self_harm"),
        ("this pain isnt worth living with", "self_harm"),  # "living" matches via its lemma too
        ("my neck is stiff and i'm burning up with fevr", "fever_with_back_pain"),
        ("I wet the bed twice since my back went out", "bladder_bowel"),
        ("no puedo controlar la orina y me duele la espalda", "bladder_bowel"),
        ("tengo fiebre y escalofríos desde la inyección en la columna", "fever_with_back_pain"),
        ("dolor en el pecho y me falta el aire", "chest_or_breathing"),
        ("no quiero seguir viviendo con este dolor", "self_harm"),
        ("everyone would be better off without me", "self_harm"),
        ("running a temperature and my back is killing me", "fever_with_back_pain"),
        ("his mouth looks crooked and he can't lift his arm", "stroke_signs"),
    ],
)
def test_finds_each_red_flag(matcher, spacy_nlp, text, flag):
    assert flag in flags_in(matcher, spacy_nlp, text)


@pytest.mark.parametrize(
    "text",
    [
        "what is PRP",
        "how long does radiofrequency ablation last",
        "no numbness in my groin",
        "I don't have a fever",
        "I never had a fever with my back pain",
        "I do not have chest pain, just a stiff back",
        "fewer shots for my back would be nice",
        "can a car accident cause facet arthritis",
        "do I fall into the candidate group",
        "I was in a car accident back in 2015, could that have caused my facet arthritis",
        "I fell off my bike years ago, is that why my facets are worn",
        "my back is stiff in the morning",
        "I hurt my back lifting boxes",
        "this pain is killing me, what can I do",
        "I'm dying to know how much PRP costs",
        "is facet arthritis permanent",
        "",
    ],
)
def test_ignores_ordinary_and_negated_messages(matcher, spacy_nlp, text):
    assert flags_in(matcher, spacy_nlp, text) == set()


def test_negation_stops_at_but(matcher, spacy_nlp):
    assert flags_in(matcher, spacy_nlp, "no fever but my legs are giving out") == {"leg_weakness"}


def test_negated_flags_are_reported_as_negated(matcher, spacy_nlp):
    found = matcher.find(spacy_nlp("no numbness in my groin"))
    assert [(f.flag, f.negated) for f in found] == [("saddle_numbness", True)]


def test_rule_file_patterns_all_compile():
    for rule in load_rules():
        for phrase in rule.phrases:
            assert phrase_to_pattern(phrase)


def test_mixing_exact_forms_and_lemmas_in_one_word_is_rejected():
    with pytest.raises(ValueError):
        phrase_to_pattern("=fell|fall down")


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("groin", "grion", True),
        ("numbness", "numbnes", True),
        ("fever", "feaver", True),
        ("fever", "fewer", True),
        ("bladder", "ladder", True),
        ("back", "neck", False),
        ("suicide", "sucide", True),
        ("abc", "abcde", False),
    ],
)
def test_edit_distance_at_most_one(a, b, expected):
    assert edit_distance_at_most_one(a, b) is expected


def test_real_words_near_keywords_are_not_corrected(spacy_nlp):
    known = spacy_nlp.vocab.lookups.get_table(KNOWN_WORDS_TABLE)
    assert "fewer" in known and "lever" in known and "cancel" in known
    assert "grion" not in known
    # a misspelling common on the web is still a misspelling: frequency alone does not protect it
    assert "controll" not in known


@pytest.mark.parametrize(
    "text",
    [
        "I never had back pain like this before my injection, what next?",  # never/fever
        "can I cancel my appointment for the back injection?",  # cancel/cancer
        "I fell off a step ladder years ago",  # ladder/bladder, and an old fall
    ],
)
def test_real_words_stay_themselves(matcher, spacy_nlp, text):
    assert flags_in(matcher, spacy_nlp, text) == set()


@pytest.mark.parametrize(
    "text, flag",
    [
        ("I suddenly cant controll my bladder", "bladder_bowel"),  # frequent misspelling
        ("chest pian and sweating", "chest_or_breathing"),  # swapped letters in a short word
        ("its an emergancy", "emergency_statement"),
        ("HELPPP my dad collapsed", "unresponsive_or_seizure"),
        ("MY LEGS ARE GIVING OUT", "leg_weakness"),  # capitals, whatever the doc's lemmas say
        ("necesito una ambulancia", "emergency_statement"),
        ("tengo fiebre desde la inyeccion", "fever_with_back_pain"),  # no accent
        ("tengo fiebre desde la inyección", "fever_with_back_pain"),
        ("no pude orinar en todo el día", "bladder_bowel"),  # Spanish forms meet the rule's lemma
        ("se me durmieron las piernas", "leg_weakness"),
        ("estoy sangrando mucho", "heavy_bleeding"),
        ("me tomé demasiadas pastillas", "overdose"),
        ("took 10 of my oxycodone", "overdose"),
        ("quiero desaparecer", "self_harm"),
        ("ya no aguanto mas", "self_harm"),
    ],
)
def test_spelling_accents_case_and_spanish_forms(matcher, spacy_nlp, text, flag):
    assert flag in set_of_all_flags(matcher, text)


def set_of_all_flags(matcher: RedFlagMatcher, text: str) -> set[str]:
    """Flags from the original casing: the matcher must not depend on the caller lowercasing."""
    import spacy

    tokens = [token.text for token in spacy.blank("en").tokenizer(text)]
    return {flag.flag for flag in matcher.find_in_words(tokens) if not flag.negated}


@pytest.mark.parametrize(
    "text",
    [
        "what should I do if I get a fever after the injection?",  # hypothetical
        "can I get my epidural if I had a cold with fever last month?",  # "if" reaches further
        "debo cancelar la inyeccion si tengo fiebre?",
        "qué hago si se me pone roja la zona de la inyección?",
        "is fever a side effect of PRP?",  # general question, nobody's symptom
        "can PRP cause a headache?",
        "how long will my leg feel numb after the nerve block?",  # about the expected course
        "can the RFA make my leg numb for a few days?",  # about a treatment in general
        "I've been taking 800mg ibuprofen for months",  # a dose, not a count of pills
        "this is not an emergency, when can I book?",
        "no es una emergencia, solo quiero una cita",
        "I'm dying to know the price",
        "quiero morirme de la risa con ese video",
        "se me cae el pelo con los medicamentos?",
        "I fell in love with this clinic",
        "I fell asleep on the couch and my neck is stiff",
    ],
)
def test_hypotheticals_general_questions_and_idioms_do_not_fire(matcher, spacy_nlp, text):
    assert flags_in(matcher, spacy_nlp, text) == set()


def test_si_with_a_comma_is_a_yes_not_an_if(matcher, spacy_nlp):
    assert "fever_with_back_pain" in flags_in(matcher, spacy_nlp, "sí, tengo fiebre desde la epidural")
    assert "fever_with_back_pain" in flags_in(matcher, spacy_nlp, "si, tengo fiebre desde la epidural")


def test_general_question_still_fires_when_a_patient_tells_their_symptom(matcher, spacy_nlp):
    assert "fever_with_back_pain" in flags_in(
        matcher, spacy_nlp, "is fever a side effect of PRP? I have 101 since my injection"
    )


def test_a_negation_of_another_verb_does_not_hide_the_symptom(matcher, spacy_nlp):
    assert "leg_weakness" in flags_in(matcher, spacy_nlp, "I don't know what's happening, my legs are numb")
    assert "chest_or_breathing" in flags_in(matcher, spacy_nlp, "i can't sleep and my chest hurts")


def test_groups_and_sentinels_expand():
    pattern = phrase_to_pattern("^ help $")
    assert pattern[0] == {"LOWER": "<s>"} or pattern[0]["LEMMA"]["IN"] == ["<s>"]
    rules = load_rules()
    overdose = next(rule for rule in rules if rule.name == "overdose")
    assert any("oxycodone" in phrase for phrase in overdose.phrases)  # "@meds" expanded
    assert not any("@" in phrase for rule in rules for phrase in rule.phrases)


@pytest.mark.parametrize(
    "text, flag",
    [
        ("no controlo la orina y me duele mucho la espalda", "bladder_bowel"),  # "controlo", not "control"
        ("desde anoche no controlo las heces", "bladder_bowel"),
        ("no he orinado en todo el día", "bladder_bowel"),
        ("tengo adormecimiento en la entrepierna", "saddle_numbness"),
        ("tengo dormida la zona de la silla de montar", "saddle_numbness"),
        ("se me debilitan las piernas cada vez más", "leg_weakness"),  # verb before the legs
        ("las piernas no me sostienen", "leg_weakness"),
        ("a mi papá se le cayó un lado de la cara", "stroke_signs"),
        ("me tomé 15 oxicodonas", "overdose"),
        ("todos estarían mejor si yo no estuviera", "self_harm"),
        ("sería mejor desaparecer", "self_harm"),
        ("les estoy dejando mis cosas a mis hijos porque ya no voy a estar", "self_harm"),
        ("me quiero matar, no aguanto este dolor", "self_harm"),
        ("llévenme a urgencias", "going_to_er"),
    ],
)
def test_spanish_red_flags_in_their_everyday_wording(matcher, spacy_nlp, text, flag):
    assert flag in flags_in(matcher, spacy_nlp, text)


def test_pronouns_written_onto_a_spanish_verb_come_off(matcher, spacy_nlp):
    """ "tomármelas" is "tomar" + "me" + "las": the plan to take them all is found."""
    _, lemmas = matcher.normal_forms(["pienso", "tomármelas", "todas"])
    assert lemmas[2] == "tomar"
    text = "Estoy cansado de este dolor. Ya junté las pastillas y esta noche pienso tomármelas todas."
    assert "self_harm" in flags_in(matcher, spacy_nlp, text)
    # a rule word keeps its own form: "matarme" is not "matar", so the idiom stays an idiom
    assert flags_in(matcher, spacy_nlp, "el dolor me está matando, hay cita más temprano?") == set()


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("pastiyas", "pastillas"),
        ("bomitar", "vomitar"),
        ("inchada", "hinchada"),
        ("ambulansia", "ambulancia"),
    ],
)
def test_spanish_words_spelled_as_they_sound_meet(typed, meant):
    assert spanish_sound(typed) == spanish_sound(meant)


def test_spanish_spelling_by_sound_is_corrected(matcher, spacy_nlp):
    assert "overdose" in flags_in(matcher, spacy_nlp, "me tome todas las pastiyas")
    assert spanish_sound("pasta") != spanish_sound("pastilla")


@pytest.mark.parametrize(
    "text",
    [
        "no he perdido el control de la orina, solo me duele la espalda",  # negated loss of control
        "no siento debilidad en las piernas, solo rigidez",  # "no siento" negates the weakness
        "¿la ablación puede dejar las piernas débiles?",  # Spanish order of "can the RFA ...?"
        "¿es normal que la pierna se sienta dormida unas horas después del bloqueo?",  # "sienta" is no "siento"
        "mi esposo tuvo un infarto hace cinco años, ¿puede hacerse la ablación?",  # a past heart attack
        "¿cuándo debo ir a urgencias después de una inyección?",  # a general question
        "¿a qué número llamo si tengo una emergencia fuera de horario?",
        "me pusieron anestesia en la nalga para la inyección, ¿es normal que me duela?",
        "tengo miedo de desmayarme con la aguja, me pueden acostar?",
        "me sentiría mejor si no estuviera tan cansada",
        "ojalá no me despierte el dolor esta noche",
        "mi papá se cayó de niño y se fracturó el brazo, ¿importa para el formulario?",
        "este dolor me mata, ¿tienen cita para esta semana?",
    ],
)
def test_spanish_look_alikes_do_not_fire(matcher, spacy_nlp, text):
    assert flags_in(matcher, spacy_nlp, text) == set()


@pytest.mark.parametrize(
    "text, flag",
    [
        ("can the RFA make my leg numb? I can't feel my leg since yesterday", "leg_weakness"),
        ("¿la ablación puede dejar la pierna dormida? no siento la pierna desde ayer", "leg_weakness"),
    ],
)
def test_a_treatment_question_followed_by_the_patients_own_symptom_fires(matcher, spacy_nlp, text, flag):
    assert flag in flags_in(matcher, spacy_nlp, text)
