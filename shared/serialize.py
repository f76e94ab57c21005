"""Mongo documents to JSON-ready dicts: ObjectId -> 24-hex string, datetime -> ISO 8601 UTC."""
from datetime import UTC, datetime

from bson import ObjectId


def iso(value):
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_json(value, hidden=frozenset()):
    """Recursively convert `value`; keys in `hidden` are dropped at every level."""
    if isinstance(value, dict):
        return {k: to_json(v, hidden) for k, v in value.items() if k not in hidden}
    if isinstance(value, list | tuple):
        return [to_json(v, hidden) for v in value]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    return value


def now():
    return datetime.now(UTC)
