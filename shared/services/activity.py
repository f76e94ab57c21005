"""Activity history: what happened to an account, visible only to that account."""
from shared.models import activity
from shared.schemas import cursor_page


def record(account_id, role, action, meta=None):
    """A server-side entry (register, login, ride accepted, ...)."""
    return activity.record(account_id, role, action, meta)


def add_from_client(account_id, role, action, meta):
    """An entry posted by the account itself (e.g. a visited place)."""
    return activity.record(account_id, role, action, meta, source="client")


def page(account_id, role, limit, before=None):
    """`(entries, next)`: the account's history, newest first."""
    return cursor_page(activity.collection(), activity.owned_by(account_id, role), limit,
                       before)
