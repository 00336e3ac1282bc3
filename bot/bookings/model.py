"""What an appointment request holds. Nothing medical: no symptoms, no diagnosis."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

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
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    notification_status: str = NotificationStatus.PENDING
    notification_attempts: int = 0
    last_notification_error: Optional[str] = None

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
            f"Received: {self.created_at.isoformat(timespec='minutes')} via {self.channel}",
        ]
        return "\n".join(lines)
