"""What the user and captain routes share: each handler of `users.py` and
`captains.py` calls one of these with its role. They return Flask responses."""
from datetime import UTC, datetime

from flask import current_app, jsonify, request
from flask_jwt_extended import decode_token

from auth_service.schemas import (
    ActivityCreateSchema,
    ActivityQuerySchema,
    LoginSchema,
    LogoutSchema,
    PasswordChangeSchema,
    ProfileUpdateSchema,
)
from shared import media
from shared.errors import ApiError, ValidationFailed
from shared.models import accounts, activity, blacklist, refresh_tokens
from shared.passwords import check_password, hash_password
from shared.tokens import (
    clear_token_cookie,
    current_account,
    current_claims,
    issue_access_token,
    set_token_cookie,
)
from shared.validation import json_body, load, load_query, object_id

INVALID_LOGIN = "Invalid email or password"


def start_session(role, account, family=None):
    """A new access token and refresh token (in `family`, or a new one) for `account`."""
    token = issue_access_token(account, role)
    claims = decode_token(token)
    refresh = refresh_tokens.issue(
        account["_id"], role, current_app.config["REFRESH_TOKEN_TTL"],
        access_claims=claims, family=family,
    )
    return token, refresh


def session_response(role, account, status=200, **extra):
    """`{role: account, token, refreshToken}` with the `token` cookie set."""
    token, refresh = start_session(role, account)
    response = jsonify({**extra, role: accounts.public(account), "token": token,
                        "refreshToken": refresh})
    response.status_code = status
    return set_token_cookie(response, token, role)


def client_meta():
    return {"ip": request.remote_addr, "userAgent": request.user_agent.string[:200]}


def register(role, schema):
    data = load(schema, json_body())
    account = accounts.create(role, data, hash_password(data["password"]))
    activity.record(account["_id"], role, "register", client_meta())
    return session_response(role, account, 201)


def login(role):
    data = load(LoginSchema(), json_body())
    account = accounts.find_by_email(role, data["email"])
    # Unknown email: check against a dummy hash so both failures take as long.
    matched = check_password(data["password"], account["password"] if account else None)
    if account is None or not matched:
        raise ApiError(401, INVALID_LOGIN)
    activity.record(account["_id"], role, "login", client_meta())
    return session_response(role, account)


def profile(role):
    return {role: accounts.public(current_account())}


def update_profile(role):
    account = current_account()
    data = load(ProfileUpdateSchema(), json_body())
    changes, unset = {}, []
    for name, value in data.get("fullname", {}).items():
        if value is None:
            unset.append(f"fullname.{name}")
        else:
            changes[f"fullname.{name}"] = value
    if "bio" in data:
        changes["bio"] = data["bio"] or ""
    old_picture = account.get("profilePic")
    if "profilePic" in data and data["profilePic"] != old_picture:
        picture = data["profilePic"]
        if picture is not None:
            picture = media.save_image(picture, account["_id"], param="profilePic")
        changes["profilePic"] = picture
    updated = accounts.update(role, account["_id"], changes, unset)
    if "profilePic" in changes and old_picture:
        media.delete_image(old_picture, account["_id"])
    return {role: accounts.public(updated)}


def logout(role):
    """Blacklist this access token, revoke its session's refresh tokens (and the one
    in the body, if any), clear the cookie."""
    account, claims = current_account(), current_claims()
    data = load(LogoutSchema(), json_body())
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    blacklist.revoke(claims["jti"], account["_id"], role, expires_at)
    refresh_tokens.revoke_session(claims["jti"])
    if data.get("refreshToken"):
        refresh_tokens.revoke(data["refreshToken"], account["_id"], role)
    activity.record(account["_id"], role, "logout", client_meta())
    return clear_token_cookie(jsonify({"message": "Logged out successfully"}))


def logout_all(role):
    account = current_account()
    accounts.revoke_tokens(role, account["_id"])
    refresh_tokens.revoke_all(account["_id"], role)
    activity.record(account["_id"], role, "logout-all", client_meta())
    return clear_token_cookie(jsonify({"message": "Logged out of all sessions"}))


def change_password(role):
    account = current_account()
    data = load(PasswordChangeSchema(), json_body())
    if not check_password(data["currentPassword"], account["password"]):
        raise ValidationFailed([{"msg": "Current password is incorrect",
                                 "param": "currentPassword", "location": "body"}])
    new_hash = hash_password(data["newPassword"])
    updated = accounts.revoke_tokens(role, account["_id"], {"password": new_hash})
    refresh_tokens.revoke_all(account["_id"], role)
    activity.record(account["_id"], role, "password-change", client_meta())
    return session_response(role, updated, message="Password changed")


def list_activity(role):
    query = load_query(ActivityQuerySchema())
    before = query.get("before")
    if before is not None:
        before = object_id(before, param="before", location="query")
    entries, cursor = activity.page(current_account()["_id"], role, query["limit"], before)
    return {"activities": [activity.public(entry) for entry in entries], "next": cursor}


def add_activity(role):
    data = load(ActivityCreateSchema(), json_body())
    entry = activity.record(current_account()["_id"], role, data["action"], data["meta"],
                            source="client")
    return {"activity": activity.public(entry)}, 201
