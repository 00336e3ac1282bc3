"""Clinic facts (name, phone, address, hours, booking link) from the staff-editable clinic.yml.

The file is re-read whenever it changes on disk, so staff edits show up without a retrain or
a restart.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

import yaml

from bot import PROJECT_ROOT
from bot.messages import Messages

logger = logging.getLogger(__name__)

WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
# Day names as patients read them, Monday first; the English ones also name clinic.yml's keys.
WEEKDAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
MONTH_NAMES = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"),
}  # fmt: skip

TEXTS = Messages(
    "clinic",
    {
        "reach": {
            "en": "You can reach {name} at {phone}.",
            "es": "Puede comunicarse con {name} al {phone}.",
        },
        "hours": {"en": "Hours: {hours}.", "es": "Horario: {hours}."},
        "address": {"en": "Address: {address}.", "es": "Dirección: {address}."},
        "no_address": {
            "en": "Please call us for the address and directions.",
            "es": "Llámenos para pedir la dirección y cómo llegar.",
        },
        "booking_link": {
            "en": "Request an appointment online: {url}",
            "es": "Solicite una cita en línea: {url}",
        },
        # One group of days in the hours line: "Mon-Thu 09:00-17:00" / "lunes a jueves 09:00-17:00".
        "day_range": {"en": "{first}-{last} {hours}", "es": "{first} a {last} {hours}"},
        "one_day": {"en": "{day} {hours}", "es": "{day} {hours}"},
    },
)


@dataclass(frozen=True)
class ClinicSettings:
    name: str
    phone: str
    email: str = ""
    address: str = ""
    booking_url: str = ""
    opening_hours: Dict[str, str] = field(default_factory=dict)
    timezone: str = "America/New_York"
    example_values: bool = False

    def hours_text(self, language: str = "en") -> str:
        """Opening hours as one readable line, e.g. 'Mon-Thu 09:00-17:00, Fri 09:00-16:00' or
        'lunes a jueves 09:00-17:00, viernes 09:00-16:00'."""
        if not self.opening_hours:
            return ""
        groups: list[list[str]] = []  # consecutive days sharing the same range
        for day in WEEKDAYS:
            hours = self.opening_hours.get(day)
            if not hours:
                continue
            if groups and groups[-1][2] == hours and _next_day(groups[-1][1]) == day:
                groups[-1][1] = day
            else:
                groups.append([day, day, hours])
        parts = []
        for first, last, hours in groups:
            if first == last:
                parts.append(TEXTS("one_day", language, day=_day_label(first, language), hours=hours))
            else:
                first_label, last_label = _day_label(first, language), _day_label(last, language)
                parts.append(TEXTS("day_range", language, first=first_label, last=last_label, hours=hours))
        return ", ".join(parts)

    def contact_text(self, language: str = "en") -> str:
        """The clinic's contact block used by hand-off, booking and location answers."""
        lines = [TEXTS("reach", language, name=self.name, phone=self.phone)]
        hours = self.hours_text(language)
        if hours:
            lines.append(TEXTS("hours", language, hours=hours))
        if self.address:
            lines.append(TEXTS("address", language, address=self.address))
        else:
            lines.append(TEXTS("no_address", language))
        if self.booking_url:
            lines.append(TEXTS("booking_link", language, url=self.booking_url))
        return "\n".join(lines)


def weekday_name(index: int, language: str = "en") -> str:
    """The name of a weekday (0 = Monday) in the reply language: 'Tuesday' / 'martes'."""
    return WEEKDAY_NAMES["es" if language == "es" else "en"][index]


def month_name(month: int, language: str = "en") -> str:
    """The name of a month (1 = January) in the reply language: 'December' / 'diciembre'."""
    return MONTH_NAMES["es" if language == "es" else "en"][month - 1]


def _day_label(day: str, language: str) -> str:
    """'Mon' in the English hours line (as before), the full 'lunes' in Spanish."""
    name = weekday_name(WEEKDAYS.index(day), language)
    return name if language == "es" else name[:3]


def _next_day(day: str) -> Optional[str]:
    index = WEEKDAYS.index(day)
    return WEEKDAYS[index + 1] if index + 1 < len(WEEKDAYS) else None


def settings_path() -> Path:
    return Path(os.environ.get("CLINIC_SETTINGS", PROJECT_ROOT / "clinic.yml"))


class _SettingsCache:
    """Keeps the parsed file and reloads it when its modification time changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Optional[tuple] = None
        self._settings: Optional[ClinicSettings] = None

    def get(self) -> ClinicSettings:
        path = settings_path()
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._key:
                self._settings = parse_settings(path.read_text(encoding="utf-8"))
                self._key = key
                if self._settings.example_values:
                    logger.warning("%s still holds example values; staff should edit it.", path)
            return self._settings


def parse_settings(text: str) -> ClinicSettings:
    """Parses clinic.yml content; raises ValueError naming what is missing or wrong."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError("clinic.yml must be a mapping of settings")
    missing = [key for key in ("name", "phone") if not str(data.get(key) or "").strip()]
    if missing:
        raise ValueError(f"clinic.yml is missing: {', '.join(missing)}")
    hours = data.get("opening_hours") or {}
    unknown_days = set(hours) - set(WEEKDAYS)
    if unknown_days:
        raise ValueError(f"clinic.yml opening_hours has unknown days: {sorted(unknown_days)}")
    return ClinicSettings(
        name=str(data["name"]).strip(),
        phone=str(data["phone"]).strip(),
        email=str(data.get("email") or "").strip(),
        address=str(data.get("address") or "").strip(),
        booking_url=str(data.get("booking_url") or "").strip(),
        opening_hours={day.lower(): str(value) for day, value in hours.items() if value},
        timezone=str(data.get("timezone") or "America/New_York"),
        example_values=bool(data.get("example_values", False)),
    )


_cache = _SettingsCache()


def load_clinic_settings() -> ClinicSettings:
    """The current clinic settings (cached; re-read when the file changes)."""
    return _cache.get()


def clinic_settings_or_none() -> Optional[ClinicSettings]:
    """The settings for texts that must go out anyway (apologies, HELP, the widget's config):
    None, logged, if clinic.yml cannot be read; callers then leave the phone out."""
    try:
        return _cache.get()
    except Exception:
        logger.exception("clinic.yml could not be read")
        return None
