"""Accounts and sessions: register, log in, profile, log out, password, refresh.

A session is an access token plus a refresh token of one family (one login). Every
function takes the role it acts for; `client` is `{"ip", "userAgent"}` for the
activity history.
"""
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from pymongo.errors import DuplicateKeyError

from shared.accounts import accounts, activity, refresh_tokens, revocations, throttle
from shared.accounts.passwords import check_password, hash_password
from shared.accounts.tokens import issue_access_token
from shared.errors import Conflict, Invalid, Unauthorized
from shared.media.service import delete_image, save_image

INVALID_LOGIN = "Invalid email or password"
DUPLICATE = {"email": "Email already registered", "plate": "Vehicle plate already registered"}


@dataclass
class Session:
    account: dict
    role: str
    token: str
    refresh_token: str


def start_session(role, account, family=None, ver=None):
    """A new access token and refresh token (in `family`, or a new one) for `account`
    (of token version `ver`, by default the account's)."""
    token, claims = issue_access_token(account, role, ver)
    refresh = refresh_tokens.issue(account["_id"], role,
                                   current_app.config["REFRESH_TOKEN_TTL"],
                                   access_claims=claims, family=family)
    return Session(account, role, token, refresh)


def create_account(role, data, client):
    """A new account (Conflict when its email or plate is taken), without a session."""
    try:
        account = accounts.create(role, data, hash_password(data["password"]))
    except DuplicateKeyError as error:
        raise Conflict(DUPLICATE[accounts.duplicate_field(error)]) from None
    activity.record(account["_id"], role, "register", client)
    return account


def register(role, data, client):
    return start_session(role, create_account(role, data, client))


def login(role, email, password, client):
    """The same 401 after the same work for an unknown email and a wrong password."""
    account = accounts.find_by_email(role, email)
    matched = check_password(password, account["password"] if account else None)
    if account is None or not matched:
        raise Unauthorized(INVALID_LOGIN)
    throttle.remember(role, account["email"], client["ip"])
    activity.record(account["_id"], role, "login", client)
    return start_session(role, account)


def profile_changes(account, data):
    """`($set, $unset)` for a profile update; a new picture is stored first."""
    changes, unset = {}, []
    for name, value in data.get("fullname", {}).items():
        if value is None:
            unset.append(f"fullname.{name}")
        else:
            changes[f"fullname.{name}"] = value
    if "bio" in data:
        changes["bio"] = data["bio"] or ""
    if "profilePic" in data and data["profilePic"] != account.get("profilePic"):
        picture = data["profilePic"]
        if picture is not None:
            picture = save_image(picture, account["_id"], param="profilePic")
        changes["profilePic"] = picture
    return changes, unset


def update_profile(role, account, data):
    changes, unset = profile_changes(account, data)
    updated = accounts.update(role, account["_id"], changes, unset)
    if "profilePic" in changes and account.get("profilePic"):
        delete_image(account["profilePic"], account["_id"])
    return updated


def set_status(account, status):
    return accounts.update("captain", account["_id"], {"status": status})


def logout(role, account, claims, refresh_token, client):
    """Blacklist this access token and end its session family (and the family of
    `refresh_token`, if given): every refresh token and access token issued in it."""
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    revocations.revoke(claims["jti"], account["_id"], role, expires_at)
    refresh_tokens.revoke_session(claims["jti"])
    if refresh_token:
        refresh_tokens.revoke(refresh_token, account["_id"], role)
    activity.record(account["_id"], role, "logout", client)


def logout_all(role, account, client):
    accounts.revoke_tokens(role, account["_id"])
    refresh_tokens.revoke_all(account["_id"], role)
    activity.record(account["_id"], role, "logout-all", client)


def change_password(role, account, current, new, client):
    """Every earlier token is revoked; the caller gets a fresh session."""
    if not check_password(current, account["password"]):
        raise Invalid.field("currentPassword", "Current password is incorrect")
    throttle.remember(role, account["email"], client["ip"])
    updated = accounts.revoke_tokens(role, account["_id"], {"password": hash_password(new)})
    refresh_tokens.revoke_all(account["_id"], role)
    activity.record(account["_id"], role, "password-change", client)
    return start_session(role, updated)


def refresh(raw):
    """Spend a refresh token for a new session of the same family, retiring the access
    token it was issued with. A revocation racing it wins: the new tokens keep the
    spent one's token version (a "log out everywhere" outdates them whenever it lands),
    and a family revoked while they were issued is revoked again with them (the answer
    is the one of a refresh just before the revocation: tokens that no longer work)."""
    try:
        spent = refresh_tokens.spend(raw)
    except refresh_tokens.RefreshError as error:
        raise Unauthorized(error.message) from None
    role, family = spent["role"], spent["family"]
    account = accounts.find_by_id(role, spent["account"])
    if account is None or outdated(spent, account):
        raise Unauthorized("Invalid refresh token")
    if "accessJti" in spent:
        revocations.retire(spent["accessJti"], account["_id"], role,
                         datetime.fromtimestamp(spent["accessExp"], UTC))
    ver = spent.get("ver", account.get("tokenVersion", 0))
    session = start_session(role, account, family, ver)
    if refresh_tokens.family_revoked(family):
        refresh_tokens.revoke_family(family)
    return session


def outdated(spent, account):
    """Whether the account logged out everywhere since this refresh token's session
    began (tokens stored before they kept a version: since it was issued)."""
    if "ver" in spent:
        return spent["ver"] < account.get("tokenVersion", 0)
    revoked_at = account.get("tokensRevokedAt")
    return revoked_at is not None and spent["createdAt"] <= revoked_at
