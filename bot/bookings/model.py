"""What an appointment request holds. Nothing medical: no symptoms, no diagnosis."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

# The languages a patient may talk to the assistant in, as staff read them in notifications.
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}

# Booking references avoid look-alike characters (0/O, 1/I) so they can be read over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    """A short booking reference such as 'FJ-7KQ2MX'."""
    return "FJ-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


class NotificationStatus:
    PENDING = "pending"
    SENDING = "sending"  # claimed by one deliverer (bot/bookings/store.py claim_next_notification)
    SENT = "sent"


@dataclass
class BookingRequest:
    reference: str
    name: str
    phone: str  # E.164
    preferred_time: str  # e.g. "Tuesday, December 1, afternoon"
    consent: bool
    email: Optional[str] = None
    interest: Optional[str] = None
    channel: str = "rest"
    # The conversation's reply language ("en"/"es"): staff call back in it. Requests stored before
    # the assistant spoke Spanish have none recorded and were all in English.
    language: str = "en"
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    notification_status: str = NotificationStatus.PENDING
    notification_attempts: int = 0
    last_notification_error: Optional[str] = None

    @property
    def language_name(self) -> str:
        """'English' or 'Spanish' (a code this version does not know is shown as it is)."""
        return LANGUAGE_NAMES.get(self.language or "en", str(self.language))

    def staff_summary(self) -> str:
        """Plain-text summary for staff notifications."""
        lines = [
            f"New appointment request {self.reference}",
            f"Name: {self.name}",
            f"Phone: {self.phone}",
            f"Email: {self.email or '-'}",
            f"Preferred time: {self.preferred_time}",
            f"Interested in: {self.interest or 'not sure'}",
            f"Consent to contact by phone/SMS: {'yes' if self.consent else 'no'}",
            f"Language: {self.language_name}",
            f"Received: {self.created_at.isoformat(timespec='minutes')} via {self.channel}",
        ]
        return "\n".join(lines)
