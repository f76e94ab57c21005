"""Chat: who may talk to whom, the sidebar, conversations, seen marks and sending.

- users message users freely;
- a rider and a captain write to each other only while a ride between them is
  `accepted` or `ongoing`, and may read their conversation after any ride together;
- captains never message captains; nobody messages themselves.

A new message is stored before it is pushed. A send with an idempotency key that its
sender already used (a retry) returns the stored message and pushes nothing. Pushes
are dumped with the schemas of realtime_service.chat.schemas and go through the
notifier.
"""
from cachetools import TTLCache

from realtime_service.chat import messages
from realtime_service.chat.schemas import MessageOut, MessagesSeenEvent
from realtime_service.rides import rides
from realtime_service.sockets import notifier
from shared.accounts import accounts
from shared.accounts.roles import Role
from shared.errors import BadRequest, Conflict, Forbidden, NotFound
from shared.media.service import save_image

SIDEBAR_FIELDS = ("fullname", "profilePic", "bio")
# Built once: a marshmallow schema deep-copies its fields on every instantiation.
MESSAGE = MessageOut()
MESSAGES_SEEN = MessagesSeenEvent()
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


def tell_sender(sender_id, reader_id, message_ids):
    """`messagesSeen` to the sender of messages that `reader_id` has just read."""
    payload = MESSAGES_SEEN.dump({"by": reader_id, "messageIds": message_ids})
    notifier.push(sender_id, "messagesSeen", payload)


def conversation(me_id, my_role, other_id, limit, before=None, mark=True):
    """`(messages oldest first, next)`: a page of the conversation with `other_id`
    (the latest one, or the one older than the message id `before`). With `mark`, the
    messages received from `other_id` are marked seen and their sender told."""
    check_partner(me_id, my_role, other_id, writing=False)
    page, next_before = messages.page_between(me_id, other_id, limit, before)
    if mark:
        mark_read(me_id, other_id, page)
    return page[::-1], next_before


def mark_read(me_id, other_id, page):
    """Mark what `other_id` sent to the caller seen (in `page` too), and tell the sender."""
    seen_ids = messages.mark_seen_from(other_id, me_id)
    for message in page:  # all seen now, by this call or by a concurrent one
        if message["receiverId"] == me_id:
            message["seen"] = True
    if seen_ids:
        tell_sender(other_id, me_id, seen_ids)


def mark_seen(me_id, message_id):
    """Mark one message seen: only its receiver may (403 for its sender, 404 for
    anyone else). Its sender is told when it was not seen yet."""
    marked = messages.mark_one_seen(message_id, me_id)
    if marked is not None:
        tell_sender(marked["senderId"], me_id, [message_id])
        return
    message = messages.find(message_id)
    if message is None or me_id not in (message["senderId"], message["receiverId"]):
        raise NotFound("Message not found")
    if message["receiverId"] != me_id:
        raise Forbidden("Only the receiver can mark a message seen")


def sent_before(me_id, other_id, key):
    """The message the caller already sent with the idempotency `key`, or None; 409
    when that key went to another account."""
    message = messages.find_by_key(me_id, key)
    if message is not None and message["receiverId"] != other_id:
        raise Conflict("This Idempotency-Key was used for another conversation")
    return message


def send(me_id, my_role, other_id, text=None, image=None, skip_sid=None, key=None,
         echo=True):
    """Store a message (an image data URL is stored in GridFS and replaced by its
    URL), then push `newMessage` to the receiver's connections and, with `echo`, to
    the sender's other ones (all but the socket `skip_sid`). Returns the stored
    message: with an idempotency `key` already used by the caller, the first one,
    stored and pushed once."""
    first = sent_before(me_id, other_id, key) if key is not None else None
    if first is not None:
        return first
    check_partner(me_id, my_role, other_id, writing=True)
    if image:
        image = save_image(image, me_id, param="image")
    message = messages.create(me_id, other_id, text, image or None, key)
    if message is None:  # a concurrent retry with this key stored it first
        return sent_before(me_id, other_id, key)
    payload = MESSAGE.dump(message)
    notifier.push(other_id, "newMessage", payload)
    if echo:
        notifier.push(me_id, "newMessage", payload, skip_sid=skip_sid)
    return message
