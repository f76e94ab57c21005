"""The clock of stored timestamps (timezone-aware UTC). Responses are shaped by the
schemas of shared/schemas.py, not here."""
from datetime import UTC, datetime


def now():
    return datetime.now(UTC)
