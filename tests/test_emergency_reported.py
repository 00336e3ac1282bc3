"""Messages testers reported as missed, and the clinic's named must-catch and must-not-catch lists.

Each emergency also names the kind of flag expected, so the dialogue can rely on it (for example
the crisis-line wording for self_harm).
"""

from __future__ import annotations

import pytest

from bot.nlu.red_flag_matcher import red_flags_in

REPORTED_MISSES = [
    ("this is an emergency", "emergency_statement"),
    ("I need an ambulance", "emergency_statement"),
    ("call 911", "emergency_statement"),
    ("Help, it's urgent, I need a doctor right now", "emergency_statement"),
    ("throat swelling and hives after the shot", "allergic_reaction"),
    ("I'm bleeding a lot from where they did the procedure", "heavy_bleeding"),
    ("worst headache of my life after the spinal injection", "severe_headache"),
    ("I just want to disappear, nobody would notice", "self_harm"),
]

MUST_CATCH = [
    # plain statements
    ("es una emergencia", "emergency_statement"),
    ("necesito una ambulancia", "emergency_statement"),
    ("llamen al 911", "emergency_statement"),
    ("it's urgent I need a doctor right now", "emergency_statement"),
    ("ITS AN EMERGANCY", "emergency_statement"),
    # after an injection or procedure
    ("fever and chills since my epidural yesterday", "fever_with_back_pain"),
    ("the injection site is red, hot and swollen", "procedure_site_infection"),
    ("there's pus leaking from the needle spot", "procedure_site_infection"),
    ("la zona de la inyeccion esta roja y le sale pus", "procedure_site_infection"),
    ("my lips and tongue are swelling after the shot", "allergic_reaction"),
    ("me cuesta respirar y tengo ronchas después de la inyección", "allergic_reaction"),
    (
        "pounding headache when I stand up since the spinal injection, better lying down",
        "post_procedure_headache",
    ),
    ("since the procedure my leg is weak and numb", "procedure_nerve_problem"),
    # chest, stroke, overdose
    ("crushing chest pain going down my left arm", "chest_or_breathing"),
    ("her face is drooping and her speech is slurred", "stroke_signs"),
    ("he's suddenly confused and weak on one side", "stroke_signs"),
    ("took too many pills", "overdose"),
    ("I overdosed on my pain meds", "overdose"),
    ("se me pasó la mano con las pastillas", "overdose"),
    # self-harm, direct and indirect
    ("I just want to disappear", "self_harm"),
    ("nobody would notice if I was gone", "self_harm"),
    ("I can't go on", "self_harm"),
    ("better off dead", "self_harm"),
    ("no quiero vivir", "self_harm"),
    ("quiero desaparecer", "self_harm"),
    ("ya no aguanto más", "self_harm"),
    # spine red flags
    ("I lost control of my bladder", "bladder_bowel"),
    ("numb in my groin and inner thighs", "saddle_numbness"),
    ("my legs keep giving out", "leg_weakness"),
    ("fever with bad back pain", "fever_with_back_pain"),
    ("I fell down the stairs and hurt my back", "trauma"),
    ("I had breast cancer and now new back pain", "cancer_with_back_pain"),
]

MUST_NOT_CATCH = [
    "what are the risks of an epidural",
    "can PRP cause a headache?",
    "is bleeding a side effect of PRP?",
    "how long does the numbness from the anesthetic last",
    "my pain is an emergency for my quality of life?",
    "do you treat neck pain after a car accident years ago",
    "what number do I call to book",
    "is RELIEF urgent care",
    "I fell in love with this clinic",
    "what temperature counts as a fever?",
    "¿el PRP puede causar fiebre?",
    "¿cuál es el número para hacer una cita?",
    "me enamoré de esta clínica",
    "¿qué riesgos tiene la epidural?",
]


@pytest.mark.parametrize("text, flag", REPORTED_MISSES + MUST_CATCH)
def test_emergency_is_caught_with_its_kind(text, flag):
    assert flag in red_flags_in(text)


@pytest.mark.parametrize("text", MUST_NOT_CATCH)
def test_look_alike_is_not_an_emergency(text):
    assert red_flags_in(text) == []
