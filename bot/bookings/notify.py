"""Telling staff about new appointment requests: email over SMTP and/or a JSON webhook.

Configured by environment variables (README, "Booking notifications"). A notifier that is down
never loses a request: its notification stays pending in the store and `deliver_pending` (run
after each submit, and by `python -m bot bookings retry`) tries again later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Dict, List, Protocol

import requests

from bot.bookings.model import BookingRequest
from bot.bookings.store import BookingStore

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


class Notifier(Protocol):
    name: str

    def send(self, request: BookingRequest) -> None:
        """Delivers the notification or raises."""


@dataclass
class EmailNotifier:
    host: str
    port: int
    sender: str
    recipients: List[str]
    username: str = ""
    password: str = ""
    starttls: bool = False
    name: str = "email"

    def send(self, request: BookingRequest) -> None:
        message = EmailMessage()
        subject = f"New appointment request {request.reference}"
        if request.language != "en":  # staff who call back in Spanish see it in the inbox list
            subject += f" ({request.language_name})"
        message["Subject"] = subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(request.staff_summary())
        with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


@dataclass
class WebhookNotifier:
    url: str
    secret: str = ""
    name: str = "webhook"

    def send(self, request: BookingRequest) -> None:
        body = json.dumps(webhook_payload(request)).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret:
            # Lets the receiver check the call came from us (HMAC-SHA256 of the body).
            headers["X-Clinic-Signature"] = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        reply = requests.post(self.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
        reply.raise_for_status()


def webhook_payload(request: BookingRequest) -> Dict[str, object]:
    return {
        "event": "booking_request.created",
        "reference": request.reference,
        "created_at": request.created_at.isoformat(),
        "name": request.name,
        "phone": request.phone,
        "email": request.email,
        "preferred_time": request.preferred_time,
        "interest": request.interest,
        "consent_to_contact": request.consent,
        "channel": request.channel,
        "language": request.language,
    }


def notifiers_from_env(environ: Dict[str, str] | None = None) -> List[Notifier]:
    env = os.environ if environ is None else environ
    notifiers: List[Notifier] = []
    if env.get("BOOKING_SMTP_HOST") and env.get("BOOKING_EMAIL_TO"):
        notifiers.append(
            EmailNotifier(
                host=env["BOOKING_SMTP_HOST"],
                port=int(env.get("BOOKING_SMTP_PORT", "25")),
                sender=env.get("BOOKING_EMAIL_FROM", "assistant@localhost"),
                recipients=[r.strip() for r in env["BOOKING_EMAIL_TO"].split(",") if r.strip()],
                username=env.get("BOOKING_SMTP_USER", ""),
                password=env.get("BOOKING_SMTP_PASSWORD", ""),
                starttls=env.get("BOOKING_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            )
        )
    if env.get("BOOKING_WEBHOOK_URL"):
        notifiers.append(
            WebhookNotifier(url=env["BOOKING_WEBHOOK_URL"], secret=env.get("BOOKING_WEBHOOK_SECRET", ""))
        )
    return notifiers


def deliver_pending(store: BookingStore, notifiers: List[Notifier]) -> Dict[str, int]:
    """Tries every pending notification once; returns counts of 'sent' and 'failed'.

    Safe to run in several threads or processes at once: each notification is claimed before it
    is sent (BookingStore.claim_next_notification), so only one of them sends it. Notifications
    for a notifier that is no longer configured stay pending for staff to see.
    """
    by_name = {notifier.name: notifier for notifier in notifiers}
    counts = {"sent": 0, "failed": 0}
    last_id = 0  # walk forward: a notification that failed in this run is not retried in it
    while (claimed := store.claim_next_notification(by_name, after_id=last_id)) is not None:
        last_id = claimed.id
        try:
            by_name[claimed.notifier].send(claimed.request)
        except Exception as error:  # any failure: back to pending, record why
            store.mark_failed(claimed.id, f"{type(error).__name__}: {error}")
            logger.warning(
                "Notifying %s about %s failed (%s); will retry",
                claimed.notifier,
                claimed.request.reference,
                type(error).__name__,
            )
            counts["failed"] += 1
        else:
            store.mark_sent(claimed.id)
            counts["sent"] += 1
    return counts
