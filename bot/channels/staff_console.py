"""The staff console in the browser, served by the bot at /staff (enabled in credentials.yml).

Inbox -> label -> "retrain and check" -> promote or roll back, for people who are not programmers.
Security: every page but the login needs a session (HttpOnly, SameSite=Strict cookie; sessions in
the clinic database, so they are revocable and shared by workers); every POST needs the session's
CSRF token; failed logins are throttled per client address (at most 5 password checks per 15 minutes,
however many requests arrive at once); pages are HTML with a CSP that allows only our own files.
Unauthenticated requests get 401, a wrong CSRF token 403. The cookie is Secure only when
`secure_cookie: true` (https), and logout expires it on the path it was set on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import load_runtime_settings
from bot.staff import training_data
from bot.staff.accounts import Session, StaffAuth
from bot.staff.audit import ADD_TOPIC, IGNORE, LABEL, PROMOTE, ROLLBACK, AuditLog
from bot.staff.inbox import read_conversations, review_items
from bot.staff.jobs import RetrainJob
from bot.staff.models import ModelStore, PromotionRefused, announce_live_model
from bot.staff.session_cookie import SessionCookie
from bot.text_normal import normalise

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "staff" / "templates"
COOKIE = "staff_session"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
INBOX_LIMIT = 100
STATIC = {"console.js": "application/javascript", "console.css": "text/css"}
# The routes that need a session: (path, method, handler method, whether the form needs the CSRF token).
SESSION_ROUTES = [
    ("/", "GET", "inbox", False),
    ("/label", "POST", "label", True),
    ("/topics/new", "GET", "new_topic_page", False),
    ("/topics", "POST", "create_topic", True),
    ("/retrain", "GET", "retrain_page", False),
    ("/retrain", "POST", "retrain", True),
    ("/retrain/status", "GET", "retrain_status", False),
    ("/promote", "POST", "promote", True),
    ("/rollback", "POST", "rollback", True),
    ("/history", "GET", "history", False),
    ("/logout", "POST", "log_out", True),
]

Handler = Callable[..., Awaitable[HTTPResponse]]


class StaffConsoleInput(InputChannel):
    def __init__(self, secure_cookie: bool = False) -> None:
        self.secure_cookie = secure_cookie
        self.job = RetrainJob()
        self._auth: Optional[StaffAuth] = None
        self._audit: Optional[AuditLog] = None
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"])
        )

    @classmethod
    def name(cls) -> str:
        return "staff"

    def url_prefix(self) -> str:
        return "/staff"  # absolute: not under /webhooks/

    @classmethod
    def from_credentials(cls, credentials: Optional[dict]) -> "StaffConsoleInput":
        credentials = credentials or {}
        return cls(secure_cookie=str(credentials.get("secure_cookie", "")).lower() in ("1", "true", "yes"))

    @property
    def auth(self) -> StaffAuth:
        if self._auth is None:  # opened on first use: a bot nobody administers never touches it
            self._auth = StaffAuth.from_env()
        return self._auth

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog.from_url()
        return self._audit

    @property
    def cookie(self) -> SessionCookie:
        return SessionCookie(COOKIE, self.url_prefix(), secure=self.secure_cookie)

    # --- plumbing ---------------------------------------------------------------------------

    def _page(self, template: str, status: int = 200, **context: Any) -> HTTPResponse:
        html = self.templates.get_template(template).render(prefix=self.url_prefix(), **context)
        return response.html(html, status=status, headers=HEADERS)

    async def _session(self, request: Request) -> Optional[Session]:
        return await asyncio.to_thread(self.auth.session, request.cookies.get(COOKIE))

    def _requires_login(self, handler: Handler, check_csrf: bool = False) -> Handler:
        async def guarded(request: Request) -> HTTPResponse:
            session = await self._session(request)
            if session is None:
                return self._page("unauthorized.html", status=401, session=None)
            if check_csrf and request.form.get("csrf_token") != session.csrf_token:
                return response.text(
                    "The form expired or did not come from this console. Reload the page.", status=403
                )
            return await handler(request, session)

        return guarded

    def _redirect(self, path: str, notice: Optional[str] = None) -> HTTPResponse:
        query = f"?notice={_quote(notice)}" if notice is not None else ""
        return response.redirect(f"{self.url_prefix()}{path}{query}", status=303)

    # --- routes -----------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        console = Blueprint("staff_console", __name__)
        asset_path = "/<asset:(console\\.js|console\\.css)>"
        console.add_route(_function(self.asset), asset_path, methods=["GET"], name="asset")
        console.add_route(_function(self.login_page), "/login", methods=["GET"], name="login_page")
        console.add_route(_function(self.log_in), "/login", methods=["POST"], name="log_in")
        for path, method, handler_name, check_csrf in SESSION_ROUTES:
            handler = self._requires_login(getattr(self, handler_name), check_csrf)
            console.add_route(handler, path, methods=[method], name=f"{method}{path}")
        return console

    async def asset(self, request: Request, asset: str) -> HTTPResponse:
        return await response.file(TEMPLATES / asset, mime_type=STATIC[asset], headers=HEADERS)

    async def login_page(self, request: Request) -> HTTPResponse:
        return self._page("login.html", session=None)

    async def log_in(self, request: Request) -> HTTPResponse:
        client = request.remote_addr or request.ip or "unknown"
        username, password = request.form.get("username", ""), request.form.get("password", "")
        result = await asyncio.to_thread(self.auth.log_in, username, password, client)
        if result.token is None:
            error = (
                "Too many failed attempts. Wait 15 minutes."
                if result.locked_out
                else "Wrong name or password."
            )
            return self._page(
                "login.html", status=429 if result.locked_out else 401, session=None, error=error
            )
        reply = self._redirect("/")
        self.cookie.set(reply, result.token)
        return reply

    async def log_out(self, request: Request, session: Session) -> HTTPResponse:
        await asyncio.to_thread(self.auth.log_out, request.cookies.get(COOKIE))
        reply = self._redirect("/login")
        self.cookie.expire(reply)
        return reply

    async def inbox(self, request: Request, session: Session) -> HTTPResponse:
        language = request.args.get("language") if request.args.get("language") in ("en", "es") else None
        items = await asyncio.to_thread(self._inbox_items, language)
        labels = training_data.known_labels(training_data.PROJECT_FILES)
        return self._page(
            "inbox.html", session=session, items=items, labels=labels, notice=request.args.get("notice")
        )

    async def label(self, request: Request, session: Session) -> HTTPResponse:
        message, chosen = request.form.get("message", ""), request.form.get("label", "")
        key = normalise(message)
        try:
            if request.form.get("action") == "ignore":
                await asyncio.to_thread(self.audit.record, session.username, IGNORE, key=key, message=message)
                notice = "Ignored."
            else:
                await asyncio.to_thread(
                    training_data.add_example, message, chosen, training_data.PROJECT_FILES
                )
                await asyncio.to_thread(
                    self.audit.record, session.username, LABEL, key=key, message=message, label=chosen
                )
                notice = f"Added to {chosen}. Retrain for the bot to learn it."
        except training_data.LabelRefused as refusal:
            notice = f"Not changed: {refusal}"
        return self._redirect("/", notice)

    async def new_topic_page(self, request: Request, session: Session) -> HTTPResponse:
        return self._page("new_topic.html", session=session, form={}, bilingual=True)

    async def create_topic(self, request: Request, session: Session) -> HTTPResponse:
        form = {key: request.form.get(key, "") for key in training_data.TOPIC_FORM_FIELDS}
        name = form["name"].strip()
        examples = [line.strip() for line in form["examples"].splitlines() if line.strip()]
        try:
            warnings = await asyncio.to_thread(
                training_data.add_topic_from_form, form, training_data.PROJECT_FILES
            )
        except training_data.LabelRefused as refusal:
            return self._page(
                "new_topic.html", status=400, session=session, form=form, error=str(refusal), bilingual=True
            )
        await asyncio.to_thread(
            self.audit.record,
            session.username,
            ADD_TOPIC,
            topic=name,
            title=form["title"],
            examples=len(examples),
            spanish=bool(form["answer_es"].strip()),
        )
        notice = " ".join([f"Topic faq/{name} created. Retrain for the bot to learn it.", *warnings])
        return self._redirect("/retrain", notice)

    async def retrain_page(self, request: Request, session: Session) -> HTTPResponse:
        report = await asyncio.to_thread(self._latest_report)
        return self._page(
            "retrain.html", session=session, job=self.job.status(), report=report,
            notice=request.args.get("notice"),
        )  # fmt: skip

    async def retrain(self, request: Request, session: Session) -> HTTPResponse:
        started = await asyncio.to_thread(self.job.start, session.username)
        return self._redirect(
            "/retrain", "Training started." if started else "A training is already running."
        )

    async def retrain_status(self, request: Request, session: Session) -> HTTPResponse:
        status = self.job.status()
        return response.json(
            {"running": status.running, "lines": status.lines[-30:], "exit_code": status.exit_code}
        )

    async def promote(self, request: Request, session: Session) -> HTTPResponse:
        candidate = request.form.get("candidate", "")
        return await self._switch_model(session, PROMOTE, lambda store: store.promote(candidate), candidate)

    async def rollback(self, request: Request, session: Session) -> HTTPResponse:
        return await self._switch_model(session, ROLLBACK, lambda store: store.rollback(), None)

    async def history(self, request: Request, session: Session) -> HTTPResponse:
        entries = await asyncio.to_thread(self.audit.entries, 200)
        return self._page("history.html", session=session, entries=entries)

    # --- work -------------------------------------------------------------------------------

    def _inbox_items(self, language: Optional[str] = None) -> list:
        settings = load_runtime_settings()
        if not settings.tracker_store_url and not settings.tracker_db.exists():
            return []
        conversations = read_conversations(settings.conversations_url)
        return review_items(conversations, self.audit.handled_keys(), INBOX_LIMIT, language=language)

    def _latest_report(self) -> Optional[dict]:
        """The newest candidate's gate report, marked promoted if the last switch put it live."""
        store = self._store()
        candidate = store.latest_candidate()
        report = store.report(candidate) if candidate else None
        if report is not None:
            switches = [e for e in self.audit.entries(20) if e.action in (PROMOTE, ROLLBACK)]
            report["promoted"] = bool(switches) and switches[0].detail.get("candidate") == candidate
        return report

    @staticmethod
    def _store() -> ModelStore:
        return ModelStore.for_live_model(load_runtime_settings().model_path)

    async def _switch_model(
        self, session: Session, action: str, change, candidate: Optional[str]
    ) -> HTTPResponse:
        settings = load_runtime_settings()
        store = self._store()
        try:
            await asyncio.to_thread(change, store)
            await asyncio.to_thread(self.audit.record, session.username, action, candidate=candidate)
            # The request goes to this very server: in a thread, so the event loop stays free to answer it.
            how = await asyncio.to_thread(announce_live_model, settings, store)
            notice = (
                "The bot now answers with the new model."
                if action == PROMOTE
                else "The previous model is live again."
            )
            if settings.model_server_url:  # replicas: live within one pull interval, not yet
                notice = (
                    "The new model is live. " if action == PROMOTE else "The previous model is live. "
                ) + how
        except PromotionRefused as refusal:
            notice = f"Not changed: {refusal}"
        return self._redirect("/retrain", notice)


def _function(method: Handler) -> Handler:
    """A bound method as a plain function: Sanic's blueprints mark handlers with attributes."""

    @functools.wraps(method)
    async def handler(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        return await method(request, *args, **kwargs)

    return handler


def _quote(text: str) -> str:
    return quote(text, safe="")
