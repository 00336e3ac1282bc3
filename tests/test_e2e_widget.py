"""The website widget in a real browser: Debian's Chromium driven by Playwright, against the real
bot serving its own demo page, widget bundle and REST channel on loopback."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from typing import Iterator, List

import pytest

from bot import PROJECT_ROOT
from bot.clinic import load_clinic_settings
from bot.launcher import Servers, settings_with_ports
from tests.conftest import free_port
from tests.test_e2e_booking import an_open_day

pytestmark = pytest.mark.e2e

BUNDLE = PROJECT_ROOT / "widget" / "dist" / "clinic-chat.js"
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
EMBEDDING_ORIGIN = "https://www.clinic-site.example"
# No browser download: the system's Chromium (apt install chromium; .ci/run installs it).
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium calls Google hosts this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 30_000


def _require(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the browser tests)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[Servers]:
    _require(BUNDLE.exists(), "the widget is not built (make setup needs Node.js)")
    tmp = tmp_path_factory.mktemp("widget")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOT_CORS_ORIGINS", EMBEDDING_ORIGIN)
        patch.setenv("DATABASE_URL", f"sqlite:///{tmp / 'clinic.db'}")
        settings = settings_with_ports(free_port(), free_port(), tmp / "tracker.db")
        with Servers(settings, log_dir=tmp / "logs") as servers:
            yield servers


@pytest.fixture(scope="module")
def browser():
    _require(os.path.exists(CHROMIUM), f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def base_url(servers) -> str:
    return f"http://127.0.0.1:{servers.settings.bot_port}"


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.requests = []  # every URL the page asked for
    page.on("request", lambda request: page.requests.append(request.url))
    page.dialogs = []  # an alert() would mean injected script ran
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def open_widget(page, base_url: str):
    response = page.goto(base_url + "/")
    assert response.status == 200
    page.get_by_test_id("chat-launcher").click()
    page.get_by_test_id("bot-message").first.wait_for()
    return response


def ask(page, text: str) -> None:
    bots_before = page.get_by_test_id("bot-message").count()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")
    page.wait_for_function(
        """([count]) => document.getElementById('clinic-chat-root').shadowRoot
               .querySelectorAll('[data-testid="bot-message"]').length > count""",
        arg=[bots_before],
    )


def bot_texts(page) -> List[str]:
    return page.get_by_test_id("bot-message").all_inner_texts()


def test_demo_page_widget_answers_a_question_and_fetches_nothing_else(page, base_url):
    response = open_widget(page, base_url)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    greeting = bot_texts(page)[0]
    assert "can't give medical advice" in greeting and "911" in greeting
    assert page.get_by_test_id("quick-reply").count() >= 4
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-open.png"))
    ask(page, "how long does relief from radiofrequency ablation last?")
    assert "six months to a year" in bot_texts(page)[-1] or "six months to a year" in " ".join(
        bot_texts(page)
    )
    assert page.get_by_test_id("user-message").all_inner_texts() == [
        "how long does relief from radiofrequency ablation last?"
    ]
    assert all(url.startswith(base_url) for url in page.requests), page.requests


def test_not_helpful_is_thanked_and_reaches_the_staff_inbox(page, base_url, servers):
    from bot.staff.inbox import REASON_NEGATIVE, read_conversations, review_items

    open_widget(page, base_url)
    assert page.get_by_test_id("feedback-negative").count() == 0  # not under the greeting
    ask(page, "what is a facet joint?")
    page.get_by_test_id("feedback-negative").click()
    page.get_by_text("Clinic staff review answers").first.wait_for()
    conversations = read_conversations(f"sqlite:///{servers.settings.tracker_db}")
    items = {item.key: item for item in review_items(conversations)}
    assert REASON_NEGATIVE in items["what is a facet joint"].reasons


def test_a_quick_reply_sends_its_payload_and_shows_its_title(page, base_url):
    open_widget(page, base_url)
    page.get_by_test_id("quick-reply").filter(has_text="What PRP is").click()
    page.get_by_text("Platelet-rich plasma").first.wait_for()
    assert page.get_by_test_id("user-message").all_inner_texts() == ["What PRP is"]


def test_history_survives_a_reload_and_start_over_begins_a_new_conversation(page, base_url):
    open_widget(page, base_url)
    ask(page, "what is a facet joint?")
    before = bot_texts(page)
    first_id = json.loads(page.evaluate("sessionStorage.getItem('clinic-chat:v1')"))["conversationId"]
    page.reload()
    page.get_by_test_id("bot-message").first.wait_for()
    assert bot_texts(page) == before
    assert page.get_by_test_id("user-message").all_inner_texts() == ["what is a facet joint?"]
    assert page.evaluate("localStorage.length") == 0
    page.get_by_test_id("chat-start-over").click()
    page.wait_for_function(
        """() => !document.getElementById('clinic-chat-root').shadowRoot
               .querySelector('[data-testid="user-message"]')"""
    )
    page.get_by_test_id("bot-message").first.wait_for()
    assert "can't give medical advice" in bot_texts(page)[0]
    second_id = json.loads(page.evaluate("sessionStorage.getItem('clinic-chat:v1')"))["conversationId"]
    assert second_id != first_id and second_id.startswith("web-")


@pytest.mark.parametrize(
    "payload",
    ['<img src=x onerror="alert(1)">', "<script>alert(2)</script>", '"><svg onload=alert(3)>'],
)
def test_html_typed_by_a_patient_shows_as_text(page, base_url, payload):
    open_widget(page, base_url)
    ask(page, payload)
    assert page.get_by_test_id("user-message").all_inner_texts() == [payload]
    injected = page.evaluate(
        """() => document.getElementById('clinic-chat-root').shadowRoot
               .querySelectorAll('.cc-user-text img, .cc-user-text script, .cc-user-text svg').length"""
    )
    assert injected == 0 and page.dialogs == []


def focused_test_id(page) -> str:
    return page.evaluate(
        "document.getElementById('clinic-chat-root').shadowRoot.activeElement?.dataset?.testid || ''"
    )


def test_keyboard_only(page, base_url):
    page.goto(base_url + "/")
    for _ in range(6):  # past the page's own link to the launcher
        page.keyboard.press("Tab")
        if focused_test_id(page) == "chat-launcher":
            break
    assert focused_test_id(page) == "chat-launcher"
    page.keyboard.press("Enter")
    page.get_by_test_id("bot-message").first.wait_for()
    assert focused_test_id(page) == "chat-input"
    page.keyboard.type("what is PRP?")
    page.keyboard.press("Enter")
    page.get_by_text("Platelet-rich plasma").first.wait_for()
    page.keyboard.press("Escape")
    assert page.get_by_test_id("chat-launcher").get_attribute("aria-expanded") == "false"
    assert focused_test_id(page) == "chat-launcher"


def test_server_unreachable_shows_the_phone_and_keeps_the_typed_message(page, base_url):
    open_widget(page, base_url)
    page.route("**/webhooks/rest/webhook", lambda route: route.abort())
    page.get_by_test_id("chat-input").fill("what does PRP cost?")
    page.get_by_test_id("chat-input").press("Enter")
    notice = page.get_by_test_id("chat-error")
    notice.wait_for()
    assert load_clinic_settings().phone in notice.inner_text()
    assert page.get_by_test_id("chat-input").input_value() == "what does PRP cost?"


def test_a_phone_sized_screen_gets_the_whole_width(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        page.get_by_test_id("chat-launcher").tap()
        panel = page.get_by_test_id("chat-panel")
        panel.wait_for()
        page.get_by_test_id("bot-message").first.wait_for()
        box = panel.bounding_box()
        assert box["width"] >= 370 and box["x"] <= 2
        assert not page.get_by_test_id("chat-launcher").is_visible()  # would cover the send button
        page.wait_for_timeout(300)  # the panel's fade-in
        page.screenshot(path=str(SCREENSHOTS / "widget-phone.png"))
    finally:
        context.close()


def test_booking_through_the_widget(page, base_url):
    open_widget(page, base_url)
    page.get_by_test_id("quick-reply").filter(has_text="Book a visit").click()
    page.get_by_text("full name").first.wait_for()
    for answer in ["Maria Lopez", "(305) 555-0123", "skip", an_open_day()]:
        ask(page, answer)
    page.get_by_test_id("quick-reply").filter(has_text="RELIEF").click()
    page.get_by_text("contact you").first.wait_for()
    page.get_by_test_id("quick-reply").filter(has_text="Yes").click()
    page.get_by_test_id("quick-reply").filter(has_text="Send request").click()
    page.get_by_text("not a confirmed appointment").first.wait_for()


def test_a_spanish_conversation_with_a_booking_through_the_widget(page, base_url):
    """The EN/ES toggle switches the widget and the bot; the whole booking then runs in Spanish."""
    open_widget(page, base_url)
    bots_before = page.get_by_test_id("bot-message").count()
    page.get_by_test_id("chat-lang-es").click()
    page.wait_for_function(
        """([count]) => document.getElementById('clinic-chat-root').shadowRoot
               .querySelectorAll('[data-testid="bot-message"]').length > count""",
        arg=[bots_before],
    )
    assert bot_texts(page)[-1].startswith("¡Hola!") and "911" in bot_texts(page)[-1]
    assert page.get_by_test_id("chat-input").get_attribute("placeholder").startswith("Escriba")
    ask(page, "¿Cuánto tarda el PRP en hacer efecto?")
    assert "semanas" in bot_texts(page)[-1]
    ask(page, "me gustaría pedir una cita")
    page.get_by_text("nombre completo").first.wait_for()
    for answer in ["María López", "(305) 555-0188", "omitir", "el martes que viene a las 10 de la mañana"]:
        ask(page, answer)
    page.get_by_test_id("quick-reply").filter(has_text="RELIEF").click()
    page.get_by_text("comunicarse con usted").first.wait_for()
    page.get_by_test_id("quick-reply").filter(has_text="Sí").first.click()
    page.get_by_test_id("quick-reply").filter(has_text="Enviar solicitud").click()
    page.get_by_text("¡Gracias!").first.wait_for()


def test_embedding_is_allowed_only_from_the_configured_origin(servers, base_url):
    def allowed_origin(origin: str):
        request = urllib.request.Request(
            base_url + "/webhooks/rest/webhook",
            data=json.dumps({"sender": "cors-check", "message": "hi"}).encode(),
            headers={"Content-Type": "application/json", "Origin": origin},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.headers.get("Access-Control-Allow-Origin")

    assert allowed_origin(EMBEDDING_ORIGIN) == EMBEDDING_ORIGIN
    assert allowed_origin("https://evil.example") is None


def test_widget_files_are_served_with_their_types(base_url):
    with urllib.request.urlopen(base_url + "/webhooks/widget/clinic-chat.js", timeout=30) as reply:
        assert reply.headers["Content-Type"].startswith("application/javascript")
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
    with urllib.request.urlopen(base_url + "/webhooks/widget/config", timeout=30) as reply:
        config = json.loads(reply.read())
    assert config["phone"] == load_clinic_settings().phone and config["title"]


AXE = PROJECT_ROOT / "widget" / "node_modules" / "axe-core" / "axe.min.js"


def test_no_wcag_a_or_aa_violations_found_by_axe(browser, base_url):
    """axe-core (the engine behind Lighthouse's accessibility audit) over the open widget: contrast,
    labels, roles, focusable controls; it reads open shadow roots."""
    _require(AXE.exists(), "axe-core is not installed (npm ci in widget/)")
    context = browser.new_context(bypass_csp=True)  # the demo page's CSP would block the injected axe
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        open_widget(page, base_url)
        ask(page, "what is PRP?")
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            """async () => (await axe.run(document.getElementById('clinic-chat-root'),
                   {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})).violations
               .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"""
        )
        assert violations == []
    finally:
        context.close()
