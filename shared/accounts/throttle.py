"""Known addresses: the client addresses an account has proved its password from.

The per-account password limits (shared/ratelimit.py) spare them, so guesses from
elsewhere cannot lock the owner out (OWASP ASVS 2.2.1). A record lasts
KNOWN_ADDRESS_TTL seconds after the address's last successful password check.
"""
from datetime import UTC, datetime, timedelta

from flask import current_app

from shared.accounts import known_addresses
from shared.accounts.emails import InvalidEmail, normalize


def normal_email(email):
    """The email as accounts store it, so that every spelling of one address shares one
    counter (trimmed and lower-cased when it is not a valid address); None when there is
    none."""
    if not (isinstance(email, str) and email.strip()):
        return None
    try:
        return normalize(email)
    except InvalidEmail:
        return email.strip().lower()


def remember(role, email, ip):
    """`ip` has just proved the password of the account (`role`, `email`)."""
    email = normal_email(email)
    if email and ip:
        ttl = timedelta(seconds=current_app.config["KNOWN_ADDRESS_TTL"])
        known_addresses.remember(role, email, ip, datetime.now(UTC) + ttl)


def is_known(role, email, ip):
    """Whether `ip` proved the password of the account (`role`, `email`) lately."""
    email = normal_email(email)
    return bool(email and ip) and known_addresses.is_known(role, email, ip, datetime.now(UTC))
