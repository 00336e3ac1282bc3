"""Retraining with a gate, promotion and rollback: the gate's rules on made-up scores, then the
whole loop for real: train (a few epochs), check, promote into the running bot over its HTTP API,
ask it over REST, roll back; and an injected regression that the gate rejects."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bot import PROJECT_ROOT
from bot.evaluation import Scores
from bot.launcher import Servers, settings_with_ports
from bot.staff import training_data
from bot.staff.accounts import hash_password
from bot.staff.models import ModelStore, PromotionRefused, load_on_server
from bot.staff.retrain import check_candidate, judge, train_candidate
from bot.staff.training_data import TrainingFiles
from tests.conftest import free_port
from tests.test_e2e import say

# The live config trains in about a minute (no neural network left in it), so the tests train with it.
FAST_CONFIG = PROJECT_ROOT / "config.yml"
STAFF_PASSWORD = "correct horse battery staple"
# Topics the training data knows nothing about (parking and wheelchair access are clinic_location).
VIDEO_ANSWER = "Please call the clinic to ask whether a video visit suits your case."


def scores(*rows) -> Scores:
    return Scores(rows=list(rows))


GOOD = [("q1", "faq/prp_what", "faq/prp_what"), ("q2", "faq/prp_what", "faq/prp_what"),
        ("q3", "faq/prp_what", "faq/prp_what"), ("q4", "emergency", "emergency"),
        ("q5", "faq/adrc", "faq/adrc")]  # fmt: skip
# The candidate on the emergency regression set: every emergency caught, no false alarm
# (the gate's floors on it: tests/test_retrain_gate.py).
CAUGHT = Scores(rows=[("e1", "emergency", "emergency"), ("n1", "not_emergency", "faq/prp_what")])


def test_the_gate_passes_an_equal_model_and_explains():
    report = judge("c1", scores(*GOOD), scores(*GOOD), stories_passed=True, regression=CAUGHT)
    assert (
        report.passed and report.changed == [] and "No test question got a worse answer" in report.reasons[0]
    )


def test_the_gate_rejects_a_missed_emergency_in_plain_words():
    worse = GOOD[:3] + [("q4", "emergency", "faq/prp_what")] + GOOD[4:]
    report = judge("c1", scores(*GOOD), scores(*worse), stories_passed=True, regression=CAUGHT)
    assert (
        not report.passed and "misses emergency messages" in report.reasons[0] and "'q4'" in report.reasons[0]
    )
    assert report.changed == [
        {"text": "q4", "expected": "emergency", "before": "emergency", "after": "faq/prp_what"}
    ]


def test_answers_moving_both_ways_are_noise_but_a_one_sided_loss_is_not():
    """McNemar on paired answers: 13 worse and 7 better (measured after adding a harmless topic) is
    chance; 14 worse and none better is a regression."""
    right = 390  # 97.5%: the moves below stay above the absolute floor, so McNemar decides
    live = [(f"r{n}", "faq/prp_what", "faq/prp_what") for n in range(right)]
    live += [(f"w{n}", "faq/adrc", "faq/prp_what") for n in range(400 - right)]

    def moved(worse: int, better: int) -> list:
        rows = [(text, expected, "faq/adrc") if n < worse else (text, expected, predicted)
                for n, (text, expected, predicted) in enumerate(live[:right])]  # fmt: skip
        rows += [(text, expected, expected) if n < better else (text, expected, predicted)
                 for n, (text, expected, predicted) in enumerate(live[right:])]  # fmt: skip
        return rows

    assert judge("c1", scores(*live), scores(*moved(13, 7)), stories_passed=True, regression=CAUGHT).passed
    report = judge("c1", scores(*live), scores(*moved(14, 0)), stories_passed=True, regression=CAUGHT)
    assert not report.passed and "14 answers got worse, 0 better" in report.reasons[0], report.reasons


def test_one_question_moving_is_noise_not_a_regression():
    """At the held-out set's size (~400), one question moving each way is not a regression."""
    live = [(f"p{n}", "faq/prp_what", "faq/prp_what") for n in range(200)]
    live += [(f"a{n}", "change_booking", "change_booking") for n in range(4)]
    moved = live[:-1] + [("a3", "change_booking", "faq/prp_what")]  # F1 change_booking 1.00 -> 0.86
    report = judge("c1", scores(*live), scores(*moved), stories_passed=True, regression=CAUGHT)
    assert report.passed, report.reasons


def test_the_gate_rejects_a_topic_that_got_worse_and_failing_conversations():
    worse = [(f"q{n}", "faq/prp_what", "faq/adrc") for n in (1, 2, 3)] + GOOD[3:]
    report = judge("c1", scores(*GOOD), scores(*worse), stories_passed=False, regression=CAUGHT)
    assert not report.passed
    assert any("answers fewer test questions" in reason.lower() for reason in report.reasons)
    assert any("Answers about faq/prp_what got worse" in reason for reason in report.reasons)
    assert any("conversation tests" in reason for reason in report.reasons)


def test_only_a_candidate_that_passed_can_be_promoted_and_rollback_swaps(tmp_path):
    store = ModelStore(tmp_path / "models")
    store.candidates_dir.mkdir(parents=True)
    store.live.write_text("old")
    for name, passed in [("good", True), ("bad", False)]:
        store.candidate(name).write_text(name)
        store.report_path(name).write_text(json.dumps({"passed": passed, "reasons": ["F1 dropped."]}))
    with pytest.raises(PromotionRefused, match="did not pass"):
        store.promote("bad")
    with pytest.raises(PromotionRefused, match="no checked candidate"):
        store.promote("missing")
    store.promote("good")
    assert (store.live.read_text(), store.previous.read_text()) == ("good", "old")
    store.rollback()
    assert (store.live.read_text(), store.previous.read_text()) == ("old", "good")


# --- the whole loop, for real -----------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> TrainingFiles:
    root = tmp_path_factory.mktemp("retrain-project")
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    shutil.copy(PROJECT_ROOT / "domain.yml", root / "domain.yml")
    (root / "bot").mkdir()
    shutil.copy(PROJECT_ROOT / "bot" / "topics.yml", root / "bot" / "topics.yml")
    shutil.copy(FAST_CONFIG, root / "config.yml")
    return TrainingFiles(
        nlu=root / "data" / "nlu.yml",
        domain=root / "domain.yml",
        topics=root / "bot" / "topics.yml",
        project=root,
    )


@pytest.fixture(scope="module")
def world(project, tmp_path_factory):
    """A live model trained with the fast config, served by real servers."""
    tmp = tmp_path_factory.mktemp("retrain")
    store = ModelStore(tmp / "models")
    baseline = train_candidate(store, project, FAST_CONFIG, progress=lambda _: None)
    store.live.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store.candidate(baseline), store.live)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", f"sqlite:///{tmp / 'clinic.db'}")
        patch.setenv("MODEL_PATH", str(store.live))
        patch.setenv("RASA_API_SECRET", "retrain-test-secret-0123456789")
        # The staff console edits the workspace copy and retrains with the fast config.
        patch.setenv("STAFF_WORKSPACE", str(project.project))
        patch.setenv("STAFF_RETRAIN_CONFIG", str(FAST_CONFIG))
        patch.setenv("STAFF_ACCOUNTS", f"dana={hash_password(STAFF_PASSWORD)}")
        settings = settings_with_ports(free_port(), free_port(), tmp / "tracker.db")
        with Servers(settings, log_dir=tmp / "logs") as servers:
            yield {"store": store, "servers": servers, "settings": settings}


def server_url(world) -> str:
    return f"http://127.0.0.1:{world['settings'].bot_port}"


def test_loading_a_model_needs_the_api_secret(world):
    with pytest.raises(PromotionRefused, match="HTTP 401"):
        load_on_server(server_url(world), world["store"].live, "not-the-secret")
    request = urllib.request.Request(server_url(world) + "/model", data=b"{}", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401


def test_a_new_topic_is_checked_promoted_without_restart_and_rolled_back(world, project):
    store, servers = world["store"], world["servers"]
    question = "can I have a video visit?"
    assert VIDEO_ANSWER not in say(servers, "retrain-before", question)[0]["text"]
    training_data.add_topic(
        "video_visits", "Video visits",
        ["can I have a video visit", "do you offer telehealth appointments", "is a virtual consultation possible",
         "can i see the doctor over zoom", "do you do online video consults", "telehealth available?"],
        VIDEO_ANSWER, project,
    )  # fmt: skip
    candidate = train_candidate(store, project, FAST_CONFIG, progress=lambda _: None)
    report = check_candidate(store, candidate, progress=lambda _: None)
    assert report.passed, report.summary()
    rasa_pid = servers.pid("rasa")
    store.promote(candidate)
    load_on_server(server_url(world), store.live, world["settings"].api_secret)
    assert say(servers, "retrain-after", question)[0]["text"] == VIDEO_ANSWER
    assert servers.pid("rasa") == rasa_pid  # no restart
    store.rollback()
    load_on_server(server_url(world), store.live, world["settings"].api_secret)
    assert VIDEO_ANSWER not in say(servers, "retrain-rolled-back", question)[0]["text"]


def test_labels_that_swap_two_topics_are_rejected(world, project, tmp_path):
    swapped_nlu = tmp_path / "data" / "nlu.yml"
    shutil.copytree(project.nlu.parent, swapped_nlu.parent)
    text = swapped_nlu.read_text(encoding="utf-8")
    text = text.replace("intent: faq/prp_what", "intent: faq/SWAP").replace(
        "intent: faq/steroid_injection", "intent: faq/prp_what"
    )
    swapped_nlu.write_text(
        text.replace("intent: faq/SWAP", "intent: faq/steroid_injection"), encoding="utf-8"
    )
    swapped = TrainingFiles(
        nlu=swapped_nlu, domain=project.domain, topics=project.topics, project=project.project
    )
    candidate = train_candidate(world["store"], swapped, FAST_CONFIG, progress=lambda _: None)
    report = check_candidate(world["store"], candidate, progress=lambda _: None)
    assert not report.passed
    assert any("faq/prp_what got worse" in reason for reason in report.reasons), report.reasons
    with pytest.raises(PromotionRefused, match="did not pass"):
        world["store"].promote(candidate)


# --- the staff console ------------------------------------------------------------------------

CONSOLE_ROUTES = [
    ("GET", "/staff/"), ("GET", "/staff/retrain"), ("GET", "/staff/retrain/status"), ("GET", "/staff/history"),
    ("GET", "/staff/topics/new"), ("POST", "/staff/topics"),
    ("POST", "/staff/label"), ("POST", "/staff/retrain"), ("POST", "/staff/promote"), ("POST", "/staff/rollback"),
    ("POST", "/staff/logout"),
]  # fmt: skip


def http(world, method: str, path: str, form: dict | None = None, cookie: str = ""):
    data = urllib.parse.urlencode(form or {}).encode() if method == "POST" else None
    request = urllib.request.Request(server_url(world) + path, data=data, method=method)
    if cookie:
        request.add_header("Cookie", cookie)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as reply:
            return reply.status, reply.headers, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def log_in(world) -> str:
    status, headers, _ = http(world, "POST", "/staff/login", {"username": "dana", "password": STAFF_PASSWORD})
    assert status == 303, status
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return cookie.split(";")[0]


@pytest.mark.parametrize("method, path", CONSOLE_ROUTES)
def test_every_console_route_needs_a_login(world, method, path):
    assert http(world, method, path)[0] == 401


def test_a_post_without_the_session_csrf_token_is_refused(world):
    cookie = log_in(world)
    assert http(world, "GET", "/staff/", cookie=cookie)[0] == 200
    status, _, _ = http(world, "POST", "/staff/label", {"message": "x", "label": "out_of_scope"}, cookie)
    assert status == 403


NEWSLETTER_ANSWER = "Please ask the front desk about the clinic's newsletter."


def test_console_in_a_browser_new_topic_label_retrain_promote(world, project):
    """The issue's "done when": a question the bot missed, answered by the live bot, all in the browser."""
    from tests.test_e2e_widget import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, _require

    _require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    missed = "blorp zzkt wibble newsletter"
    say(world["servers"], "console-seed", missed)
    say(world["servers"], "console-seed", "/feedback_negative")  # the widget's "Not helpful"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(server_url(world) + "/staff/")
        page.get_by_role("link", name="Log in to the staff console").click()
        page.get_by_label("Name").fill("dana")
        page.get_by_label("Password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Log in").click()

        page.get_by_role("link", name="New topic").click()
        page.get_by_label("Topic name").fill("newsletter_signup")
        page.get_by_label("Short title for buttons").fill("Newsletter")
        page.get_by_label("Example questions, one per line").fill("can i get your newsletter\nnewsletter?")
        page.get_by_label("The answer", exact=True).fill(NEWSLETTER_ANSWER)
        page.get_by_test_id("create-topic").click()
        assert "at least 5" in page.get_by_test_id("topic-error").inner_text()  # refused, form kept
        page.get_by_label("Example questions, one per line").fill(
            "can i get your newsletter\nnewsletter?\nhow do I subscribe to the clinic newsletter\n"
            "do you send a monthly newsletter\nsign me up for the newsletter"
        )
        page.get_by_test_id("create-topic").click()
        assert "newsletter_signup created" in page.get_by_test_id("notice").inner_text()

        page.get_by_role("link", name="Inbox").click()
        item = page.get_by_test_id("inbox-item").filter(has_text=missed)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "staff-inbox.png"), full_page=True)
        item.get_by_test_id("label-select").select_option("faq/newsletter_signup")
        item.get_by_test_id("label-button").click()
        assert "Added to faq/newsletter_signup" in page.get_by_test_id("notice").inner_text()
        assert missed in training_data.load_nlu_examples(project.nlu)["faq/newsletter_signup"]

        page.get_by_role("link", name="Retrain and go live").click()
        page.get_by_test_id("retrain-button").click()
        # The page polls the job's progress and reloads when the job ends.
        page.wait_for_selector('[data-testid="progress"][data-running="yes"]')
        page.wait_for_selector('[data-testid="progress"][data-running="no"]', timeout=1_200_000)  # training
        assert "passed" in page.get_by_test_id("report").inner_text(), page.get_by_test_id(
            "report"
        ).inner_text()
        page.screenshot(path=str(SCREENSHOTS / "staff-retrain-report.png"), full_page=True)
        page.get_by_test_id("promote-button").click()
        assert "now answers with the new model" in page.get_by_test_id("notice").inner_text()
        assert say(world["servers"], "console-after", missed)[0]["text"] == NEWSLETTER_ANSWER
        assert (
            say(world["servers"], "console-after-2", "can I get the newsletter?")[0]["text"]
            == NEWSLETTER_ANSWER
        )

        page.get_by_role("link", name="History").click()
        actions = " ".join(page.get_by_test_id("history-row").all_inner_texts())
        for action in ("add-topic", "label", "retrain", "promote"):
            assert action in actions
        browser.close()


def test_failed_logins_are_throttled(world):
    statuses = [
        http(world, "POST", "/staff/login", {"username": "dana", "password": "wrong"})[0] for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth failure locks the client out
    status, _, body = http(world, "POST", "/staff/login", {"username": "dana", "password": STAFF_PASSWORD})
    assert status == 429 and "Too many failed attempts" in body
