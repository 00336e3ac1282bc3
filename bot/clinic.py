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

    def hours_text(self) -> str:
        """Opening hours as one readable line, e.g. 'Mon-Thu 09:00-17:00, Fri 09:00-16:00'."""
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
            days = first[:3].title() if first == last else f"{first[:3].title()}-{last[:3].title()}"
            parts.append(f"{days} {hours}")
        return ", ".join(parts)

    def contact_text(self) -> str:
        """The clinic's contact block used by hand-off, booking and location answers."""
        lines = [f"You can reach {self.name} at {self.phone}."]
        if self.hours_text():
            lines.append(f"Hours: {self.hours_text()}.")
        if self.address:
            lines.append(f"Address: {self.address}.")
        else:
            lines.append("Please call us for the address and directions.")
        if self.booking_url:
            lines.append(f"Request an appointment online: {self.booking_url}")
        return "\n".join(lines)


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
