"""/api/v1/users/add_to_activity and /get_all_activity: the video-meeting frontend's
history, from the calls domain's call history.

The frontend sends its token in the JSON body or the query (never a header); these two
routes alone read it there (compat.meetings.web.token_in), as a Bearer token with every
check of Ridewire's. A meeting is in the history once the account's socket joined it:
`add_to_activity` checks the token and the code, and records nothing of its own.
Registered only with COMPAT_ROUTES.
"""
from marshmallow import ValidationError, fields

from compat.meetings.web import MeetingsBlueprint, code_problem, token_in, username_of
from realtime_service.calls import service
from shared.accounts.roles import Role
from shared.accounts.tokens import auth_required, current_account
from shared.schemas import Id, Message, Schema, Timestamp

HISTORY_MAX = 1000  # the latest joins listed (the frontend never pages)
MEETING_PREFIX = "meeting:"

meeting_history = MeetingsBlueprint("meeting_history", __name__, url_prefix="/api/v1/users",
                                    description="Video-meeting compatibility: history")


def token_field():
    return fields.String(load_default=None, metadata={
        "description": "the login's token (or send it as a Bearer header or the cookie)"})


def check_code(value):
    problem = code_problem(value)
    if problem:
        raise ValidationError(problem)


class ActivityRequest(Schema):
    token = token_field()
    meeting_code = fields.String(required=True, validate=check_code,
                                 metadata={"examples": ["aljk23"]})


class ActivityQuery(Schema):
    token = token_field()


class MeetingJoin(Schema):
    """One join of a meeting, as the frontend's history card shows it."""

    _id = Id()
    user_id = fields.String(metadata={"description": "the username"})
    meetingCode = fields.String()
    date = Timestamp(metadata={"description": "when the account joined"})


def joins_of(account):
    """The account's latest meeting joins, oldest first."""
    entries, _ = service.history(account["_id"], HISTORY_MAX, kind="meeting")
    username = username_of(account["email"])
    return [{"_id": entry["_id"], "user_id": username,
             "meetingCode": entry["room"].removeprefix(MEETING_PREFIX),
             "date": entry["joinedAt"]} for entry in reversed(entries)]


@meeting_history.post("/add_to_activity")
@token_in("json")
@auth_required(Role.USER)
@meeting_history.arguments(ActivityRequest)
@meeting_history.response(200, Message)
def add_to_activity(data):
    """Check the token and the meeting code before a join (the frontend's Join).

    `{token, meeting_code}`: 200 `{message}`. Nothing is stored here: the join of the
    meeting's socket is what the history lists."""
    return {"message": "Your joins of this meeting are kept in your history"}


@meeting_history.get("/get_all_activity")
@token_in("query")
@auth_required(Role.USER)
@meeting_history.arguments(ActivityQuery, location="query")
@meeting_history.response(200, MeetingJoin(many=True))
def get_all_activity(query):
    """The meetings you joined, oldest first (the frontend's History page).

    `?token=`: a JSON array of `{_id, user_id, meetingCode, date}`, one per join of a
    meeting (the latest HISTORY_MAX)."""
    return joins_of(current_account())
