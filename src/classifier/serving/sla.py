"""Service-level deadlines: `due_by` counted in business hours that skip weekends and Japanese
public holidays (the `holidays` package keeps the calendar, substitute holidays included)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

import holidays

from classifier.config import SlaConfig

# Japan has kept one offset since 1951 (no daylight saving): a fixed offset gives the same times as
# ZoneInfo("Asia/Tokyo") without a time-zone database look-up at every comparison of the count.
JST = timezone(timedelta(hours=9), "JST")


@lru_cache(maxsize=64)
def _japan(year: int) -> holidays.HolidayBase:
    return holidays.Japan(years=year)


@lru_cache(maxsize=4096)  # a batch spans few days; the holiday look-up is most of a deadline's cost
def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _japan(day.year)


@lru_cache(maxsize=4096)
def business_hours_of(day: date, opens: time, closes: time) -> tuple[datetime, datetime] | None:
    """When a day's business hours open and close in Japan time; None on weekends and holidays."""
    if not is_business_day(day):
        return None
    return datetime.combine(day, opens, JST), datetime.combine(day, closes, JST)


def add_business_hours(start: datetime, hours: float, opens: time, closes: time) -> datetime:
    """The moment `hours` of business time after `start`, in Japan time."""
    current = start.astimezone(JST)
    remaining = timedelta(hours=hours)
    while True:
        day = current.date()
        bounds = business_hours_of(day, opens, closes)
        if bounds is None or current >= bounds[1]:
            current = datetime.combine(day + timedelta(days=1), opens, JST)
            continue
        current = max(current, bounds[0])
        available = bounds[1] - current
        if remaining <= available:
            return current + remaining
        remaining -= available
        current = datetime.combine(day + timedelta(days=1), opens, JST)


def due_by(received_at: str, urgency: str, sla: SlaConfig) -> str:
    """ISO timestamp by which a mail of this urgency must be answered; '' without a usable time."""
    if not received_at or urgency not in sla.hours:
        return ""
    try:
        start = datetime.fromisoformat(received_at)
    except ValueError:
        return ""
    if start.tzinfo is None:
        return ""
    opens, closes = _opening_hours(sla.open_hour, sla.close_hour)
    return add_business_hours(start, sla.hours[urgency], opens, closes).isoformat()


@lru_cache(maxsize=16)
def _opening_hours(open_hour: int, close_hour: int) -> tuple[time, time]:
    return time(open_hour), time(close_hour)
