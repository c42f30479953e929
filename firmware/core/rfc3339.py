"""The one RFC 3339 date-time parser (OCPP 1.6 and 2.0.1 ``dateTime``): pure, no clock.

Used for every date-time the agent receives (IdTagInfo.expiryDate, currentTime,
SendLocalList expiry dates). Format: ``YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)``; ``T``
may be ``t`` or a space and ``Z`` may be ``z`` (RFC 3339 §5.6); a missing offset is
taken as UTC (1.6 §3.11: times are UTC). A bare date, a week date or any other ISO 8601
form is refused.
"""

from __future__ import annotations

from datetime import datetime, timezone


def parse_rfc3339(text: str) -> float:
    """RFC 3339 date-time → epoch seconds (UTC). Raises ``ValueError`` (naming the
    text) for anything that is not one."""
    if (not isinstance(text, str) or len(text) < 19 or not text.isascii()
            or text[4] != "-" or text[7] != "-" or text[10] not in "Tt "
            or text[13] != ":" or text[16] != ":"):
        raise ValueError(f"not an RFC 3339 date-time: {text[:40]!r}")
    body = text[:10] + "T" + text[11:]
    if body[-1] in "zZ":
        body = body[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(body)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    except (ValueError, OverflowError) as e:
        raise ValueError(f"not an RFC 3339 date-time: {text[:40]!r}") from e
