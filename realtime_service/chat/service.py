"""Chat: who may talk to whom, the sidebar, conversations, sending, and the states of
a message (delivered, seen) with the typing indicator and the sync.

- users message users freely;
- a rider and a captain write to each other only while a ride between them is
  `accepted` or `ongoing`, and may read their conversation after any ride together;
- captains never message captains; nobody messages themselves.

A new message is stored before it is pushed; the messages arriving together are stored
with one write (realtime_service.chat.group_commit) and pushed in that order. A send
with an idempotency key (an HTTP `Idempotency-Key`, a socket send's `clientMessageId`)
that its sender already used (a retry) returns the stored message and pushes nothing.
A message is delivered when its receiver's client acknowledges it, and seen under the
receiver's one seen mark per sender, which only moves forward. Reading changes nothing.
Pushes are dumped with the schemas of realtime_service.chat.schemas and go through the
notifier.
"""
from datetime import timedelta

from bson import ObjectId
from cachetools import TTLCache

from realtime_service.chat import messages, read_marks
from realtime_service.chat.group_commit import group_commit
from realtime_service.chat.schemas import (
    MessageOut,
    MessagesDeliveredEvent,
    MessagesSeenEvent,
    TypingEvent,
)
from realtime_service.rides import rides
from realtime_service.sockets import notifier
from shared.accounts import accounts
from shared.accounts.roles import Role
from shared.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from shared.media.service import save_image
from shared.serialize import now

SIDEBAR_FIELDS = ("fullname", "profilePic", "bio")
# The one CHAT_SEND_RATE_LIMIT budget of an account, for every way of sending.
SEND_SCOPE = "chat-sends"
NEW_MESSAGE, DELIVERED, SEEN, TYPING = ("newMessage", "message-delivered", "messages-seen",
                                        "typing")
# How far back a sync's last cursor starts again: a change stamped before a sync read
# but stored after it is still reported by the next one (changes may come twice).
SYNC_OVERLAP = timedelta(seconds=5)
# Built once: a marshmallow schema deep-copies its fields on every instantiation.
MESSAGE, MESSAGES_DELIVERED, MESSAGES_SEEN, TYPING_EVENT = (
    MessageOut(), MessagesDeliveredEvent(), MessagesSeenEvent(), TypingEvent())
# Chat partners' roles, saving a query per send: an account id never changes role and
# is never reused. The TTL bounds how long an account deleted from the database (no
# route deletes one) is still taken as a partner.
PARTNER_ROLES = TTLCache(maxsize=10_000, ttl=60)


def find_role(account_id):
    """The role of the account with this id (a user or a captain), or 404."""
    role = PARTNER_ROLES.get(account_id)
    if role is None:
        role = PARTNER_ROLES[account_id] = _stored_role(account_id)
    return role


def _stored_role(account_id):
    role = accounts.role_of(account_id)
    if role is None:
        raise NotFound("User not found")
    return role


def ride_between(rider_id, captain_id, writing):
    """Writing: the captain's accepted or ongoing ride is the rider's. Reading: any ride
    of theirs ever."""
    if writing:
        ride = rides.open_ride_of_captain(captain_id)
        return ride is not None and ride["user"] == rider_id
    return rides.exists_between(rider_id, captain_id)


def check_partner(me_id, my_role, other_id, writing, verb="message"):
    """400 when `other_id` is the caller, 404 when it is nobody, 403 when the rules
    above forbid the conversation; the other account's role otherwise. `verb` names
    what is refused (the calls hold direct calls to the same rules)."""
    if other_id == me_id:
        raise BadRequest(f"You cannot {verb} yourself")
    role = find_role(other_id)
    if my_role == role == Role.CAPTAIN:
        raise Forbidden(f"Captains cannot {verb} each other")
    if my_role != role:
        rider, captain = (me_id, other_id) if my_role == Role.USER else (other_id, me_id)
        if not ride_between(rider, captain, writing):
            raise Forbidden(f"Riders and captains can only {verb} during their ride")
    return role


def sidebar(me_id, my_role):
    """`(accounts, unseen counts by sender)`: every other user for a user; the rider
    of its accepted or ongoing ride for a captain."""
    if my_role == Role.USER:
        query = {"_id": {"$ne": me_id}}
    else:
        ride = rides.open_ride_of_captain(me_id)
        query = {"_id": {"$in": [ride["user"]] if ride else []}}
    return accounts.riders(query, SIDEBAR_FIELDS), messages.unseen_counts(me_id)


def conversation(me_id, my_role, other_id, limit, before=None):
    """`(messages oldest first, next)`: a page of the conversation with `other_id`
    (the latest one, or the one older than the message id `before`)."""
    check_partner(me_id, my_role, other_id, writing=False)
    page, next_before = messages.page_between(me_id, other_id, limit, before)
    return page[::-1], next_before


def sent_before(me_id, other_id, key, text=None, key_name="Idempotency-Key"):
    """The message the caller already sent with the idempotency `key`, or None; 409
    when that key went to another account (or, `text` given, with another text)."""
    message = messages.find_by_key(me_id, key)
    if message is not None and message["receiverId"] != other_id:
        raise Conflict(f"This {key_name} was used for another conversation")
    if message is not None and text is not None and message["text"] != text:
        raise Conflict(f"This {key_name} was used for another message")
    return message


def store(me_id, my_role, other_id, text=None, image=None, key=None, after=None,
          key_name="Idempotency-Key"):
    """`(message, new)`: store a message with the ones arriving with it (group commit;
    an image data URL is stored in GridFS and replaced by its URL), then run
    `after(message)`; with an idempotency `key` the caller already used, the first
    message and False (nothing run)."""
    if key is not None and image:  # a retry stores no image twice
        first = sent_before(me_id, other_id, key, text, key_name)
        if first is not None:
            return first, False
    try:
        check_partner(me_id, my_role, other_id, writing=True)
    except ApiError:  # a retry after the conversation closed still gets its message
        first = sent_before(me_id, other_id, key, text, key_name) if key else None
        if first is None:
            raise
        return first, False
    if image:
        image = save_image(image, me_id, param="image")
    message = messages.new(me_id, other_id, text, image or None, key)
    if not group_commit(NEW_MESSAGE, messages.insert_batch).submit(message, after):
        return sent_before(me_id, other_id, key, text, key_name), False  # a retry
    return message, True


def tell_receiver(message):
    """`newMessage` to every connection of the message's receiver."""
    notifier.push(message["receiverId"], NEW_MESSAGE, MESSAGE.dump(message))


def send(me_id, my_role, other_id, text=None, image=None, skip_sid=None, key=None,
         key_name="Idempotency-Key"):
    """Store a message, then push `newMessage` to the receiver's connections and to the
    sender's other ones (all but the socket `skip_sid`), one encoded packet for both.
    Returns the stored message (a retry with a used `key`: the first one, stored and
    pushed once). `key_name` names the key in a refusal."""
    def tell_both(message):
        notifier.push_many((other_id, me_id), NEW_MESSAGE, MESSAGE.dump(message),
                           skip_sid=skip_sid)

    return store(me_id, my_role, other_id, text, image, key, tell_both, key_name)[0]


def mark_delivered(me_id, message_ids):
    """The caller's client has these messages: stamp those not delivered yet and tell
    their senders (`message-delivered`). Only their receiver may (403 for a sender, 404
    for anyone else, and then nothing changes). Returns the ids newly delivered."""
    found = {message["_id"]: message for message in messages.find_many(message_ids)}
    for message_id in message_ids:
        received_only(me_id, found.get(message_id), "acknowledge a message")
    fresh = [found[i] for i in dict.fromkeys(message_ids) if not found[i].get("deliveredAt")]
    at = now()
    messages.mark_delivered(fresh, at)
    by_sender = {}
    for message in fresh:
        by_sender.setdefault(message["senderId"], []).append(message["_id"])
    for sender_id, ids in by_sender.items():
        notifier.push(sender_id, DELIVERED, MESSAGES_DELIVERED.dump(
            {"receiverId": me_id, "messageIds": ids, "deliveredAt": at}))
    return [message["_id"] for message in fresh]


def received_only(me_id, message, action):
    """404 unless the caller is a party of `message`, 403 when it is its sender (who
    may not do `action`)."""
    if message is None or me_id not in (message["senderId"], message["receiverId"]):
        raise NotFound("Message not found")
    if message["receiverId"] != me_id:
        raise Forbidden(f"Only the receiver can {action}")


def mark_seen(me_id, up_to=None, sender_id=None, skip_sid=None):
    """Move the caller's seen mark on `sender_id`'s messages up to the message `up_to`
    (the newest one received from them when None, 404 when there is none; `up_to`
    alone names its sender).
    The mark never moves back. When it moved, the sender and the caller's other
    connections get `messages-seen`. Returns `(the mark or None, unseen from them)`."""
    message = messages.find(up_to) if up_to is not None else messages.latest_from(
        sender_id, me_id)
    if up_to is not None:
        received_only(me_id, message, "mark a message seen")
        if sender_id not in (None, message["senderId"]):
            raise NotFound("Message not found")
    if message is None:
        raise NotFound("No message received from this account")
    sender_id = message["senderId"]
    mark = read_marks.advance(me_id, sender_id, message["_id"])
    if mark is None:
        return read_marks.find(me_id, sender_id), messages.unseen_from(sender_id, me_id)
    messages.mark_seen_up_to(sender_id, me_id, mark["upTo"])
    unseen = messages.unseen_from(sender_id, me_id)
    notifier.push(sender_id, SEEN, MESSAGES_SEEN.dump(mark))
    notifier.push(me_id, SEEN, MESSAGES_SEEN.dump({**mark, "unseen": unseen}),
                  skip_sid=skip_sid)
    return mark, unseen


def typing(me_id, my_role, other_id, active=True):
    """`typing` {from, active} to every connection of `other_id`, if the caller may
    write to them (the chat's rules)."""
    check_partner(me_id, my_role, other_id, writing=True)
    notifier.push(other_id, TYPING, TYPING_EVENT.dump({"from_": me_id, "active": active}))


def sync(me_id, since, limit):
    """What changed in the caller's conversations after the cursor `since`: `(messages,
    marks, unseen counts, next cursor, more)`, in change order, at most `limit`
    changes. Without `since`: no changes, and a cursor to start from."""
    floor = ObjectId.from_datetime(now() - SYNC_OVERLAP)
    if since is None:
        return [], [], messages.unseen_counts(me_id), floor, False
    changes = sorted(messages.changed_since(me_id, since, limit + 1)
                     + read_marks.changed_since(me_id, since, limit + 1),
                     key=lambda change: change["changeId"])
    more = len(changes) > limit
    changes = changes[:limit]
    last = changes[-1]["changeId"] if changes else since
    found = [c for c in changes if "upTo" not in c]
    marks = [c for c in changes if "upTo" in c]
    return found, marks, messages.unseen_counts(me_id), last if more else min(last, floor), more
