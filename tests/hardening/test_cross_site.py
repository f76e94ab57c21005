"""Cross-site requests that ride on the `token` cookie, and the
socket handshake's origin decision, against both services served with the production
configuration (APP_ENV=production, a real secret, rate limits on) and a frontend on
another site (so the cookie is SameSite=None)."""
import jwt
import pytest
import requests
import socketio
from bson import ObjectId

from ..conftest import serve
from ..factories import make_captain, make_user
from ..rides_support import ride_body
from ..sockets import RecordingClient
from .forge import claims

SECRET = "a-production-secret-of-at-least-32-chars"
FRONTEND = "https://app.example.com"  # CORS_ORIGINS: a frontend on another site
PUBLIC = "https://ridewire.example.com"  # PUBLIC_URL: the gateway's own origin
EVIL = "https://evil.example"
PRODUCTION = {"APP_ENV": "production", "JWT_SECRET_KEY": SECRET, "RATELIMIT_ENABLED": "true",
              "LOGIN_RATE_LIMIT": "1000 per minute", "CORS_ORIGINS": FRONTEND,
              "PUBLIC_URL": PUBLIC}
FORM = "application/x-www-form-urlencoded"


def production(module, mongo_uri, tmp_path_factory):
    return serve(module, mongo_uri, tmp_path_factory.mktemp(f"cross-{module}"), **PRODUCTION)


@pytest.fixture(scope="module")
def auth(mongo_uri, tmp_path_factory):
    service = production("auth_service", mongo_uri, tmp_path_factory)
    yield service.url
    service.stop()


@pytest.fixture(scope="module")
def realtime(mongo_uri, tmp_path_factory):
    service = production("realtime_service", mongo_uri, tmp_path_factory)
    yield service.url
    service.stop()


def token(account, role="user"):
    return jwt.encode(claims(account, role=role), SECRET, algorithm="HS256")


def cookie(value, **headers):
    return {"Cookie": f"token={value}", **headers}


def bearer(value):
    return {"Authorization": f"Bearer {value}"}


def profile_status(auth, value):
    return requests.get(f"{auth}/users/profile", headers=bearer(value), timeout=10).status_code


def post(url, headers, **kwargs):
    return requests.post(url, headers=headers, timeout=10, **kwargs)


# A browser's cross-site request: a form post or a no-cors fetch from another site.
CROSS_SITE = {
    "form from another site": {"Origin": EVIL, "Sec-Fetch-Site": "cross-site",
                               "Content-Type": FORM},
    "fetch from another site": {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    "sibling site": {"Origin": "https://x.ridewire.example.com", "Sec-Fetch-Site": "same-site"},
    "sandboxed page": {"Origin": "null"},
    "old browser": {"Origin": EVIL},
    "no origin at all": {},
}


@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
def test_a_cross_site_logout_all_with_the_cookie_alone_is_refused(auth, db, headers):
    """Row 5: an empty body skipped the JSON-only rule and nothing checked the origin."""
    user = make_user(db)
    session = token(user)
    response = post(f"{auth}/users/logout-all", cookie(session, **headers))
    assert response.status_code in (403, 415)
    assert set(response.json()) == {"message"}
    assert profile_status(auth, session) == 200


@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
def test_a_cross_site_ride_cancel_with_the_cookie_alone_is_refused(realtime, db, headers):
    user = make_user(db)
    session = token(user)
    ride = pending_ride(realtime, session)
    response = post(f"{realtime}/rides/{ride}/cancel", cookie(session, **headers))
    assert response.status_code in (403, 415)
    assert set(response.json()) == {"message"}
    assert db.rides.find_one({"_id": ObjectId(ride)})["status"] == "pending"


def pending_ride(realtime, session):
    """The id of a ride requested with the Bearer `session`: with no captain around it
    stays pending, searching."""
    ride = post(f"{realtime}/rides", bearer(session), json=ride_body()).json()["ride"]
    assert ride["status"] == "pending"
    return ride["_id"]


SAME_ORIGIN = {
    "same-origin fetch": {"Sec-Fetch-Site": "same-origin"},
    "the configured frontend": {"Origin": FRONTEND, "Sec-Fetch-Site": "cross-site"},
    "the public origin, old browser": {"Origin": PUBLIC},
}


@pytest.mark.parametrize("headers", SAME_ORIGIN.values(), ids=SAME_ORIGIN.keys())
def test_the_cookie_works_from_our_own_or_a_configured_origin_only(auth, db, headers):
    session = token(make_user(db))
    refused = post(f"{auth}/users/logout-all", cookie(session, Origin=EVIL))
    assert refused.status_code == 403
    assert refused.json() == {"message": "Cross-site request refused"}
    response = post(f"{auth}/users/logout-all", cookie(session, **headers))
    assert response.status_code == 200
    assert profile_status(auth, session) == 401


def test_a_bearer_request_is_not_subject_to_the_origin_check(realtime, db):
    session = token(make_user(db))
    cross_site = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    path = f"{realtime}/rides/{pending_ride(realtime, session)}/cancel"
    assert post(path, cookie(session, **cross_site)).status_code == 403
    assert post(path, {**bearer(session), **cross_site}).status_code == 200


def test_an_empty_body_of_another_content_type_is_a_415(auth, db):
    """The JSON-only rule no longer skips an empty body; no content type stays fine."""
    session = token(make_user(db))
    for content_type in (FORM, "text/plain", "multipart/form-data; boundary=x"):
        response = post(f"{auth}/users/logout-all",
                        {**bearer(session), "Content-Type": content_type})
        assert response.status_code == 415, content_type
    assert profile_status(auth, session) == 200
    assert post(f"{auth}/users/logout-all", bearer(session)).status_code == 200


@pytest.mark.parametrize("role", ["user", "captain"])
@pytest.mark.parametrize("headers", [{}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-origin"}],
                         ids=["no fetch metadata", "a link on another site", "a same-origin link"])
def test_a_logout_get_with_the_cookie_alone_is_refused(auth, db, role, headers):
    """Row 5: `GET /users/logout` changed state with the cookie alone (a link, an image)."""
    account = make_user(db) if role == "user" else make_captain(db)
    session = token(account, role)
    response = requests.get(f"{auth}/{role}s/logout", headers=cookie(session, **headers),
                            timeout=10)
    assert response.status_code == 403
    assert set(response.json()) == {"message"}
    assert requests.get(f"{auth}/{role}s/profile", headers=bearer(session),
                        timeout=10).status_code == 200
    # What the Uber clone sends: `Bearer null` along with the cookie.
    response = requests.get(f"{auth}/{role}s/logout", timeout=10, headers=cookie(
        session, Authorization="Bearer null", **{"Sec-Fetch-Site": "same-origin"}))
    assert response.status_code == 200
    assert requests.get(f"{auth}/{role}s/profile", headers=bearer(session),
                        timeout=10).status_code == 401


def polling_handshake(url, headers):
    return requests.get(f"{url}/socket.io/?EIO=4&transport=polling", headers=headers,
                        timeout=10)


@pytest.mark.parametrize("headers", [
    {"Origin": EVIL, "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
    {"Origin": "http://evil.example", "Host": "evil.example"},
], ids=["X-Forwarded-Host", "Host"])
def test_the_socket_origin_check_does_not_trust_the_host_headers(realtime, db, headers):
    """Row 15b: the origin the request named as its own host was allowed."""
    assert polling_handshake(realtime, headers).status_code == 400
    with pytest.raises(socketio.exceptions.ConnectionError):
        RecordingClient().connect(realtime, token(make_user(db)), transports=["polling"],
                                  headers=headers)


def test_the_socket_origin_check_allows_the_configured_origins(realtime, db):
    for origin in (FRONTEND, PUBLIC):
        response = polling_handshake(realtime, {"Origin": origin})
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == origin


def anonymous(realtime, headers):
    client = RecordingClient()
    try:
        client.connect(realtime, transports=["polling"], headers=headers)
    except socketio.exceptions.ConnectionError:
        return client.connect_error
    client.disconnect()
    return "connected"


def test_an_anonymous_socket_needs_the_configured_public_origin(realtime, db):
    """Row 15b: a page of an allowed origin that named itself in X-Forwarded-Host was
    taken for the gateway's own page and connected anonymously."""
    spoofed = {"Origin": FRONTEND, "X-Forwarded-Host": "app.example.com",
               "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert anonymous(realtime, spoofed) == {"message": "Authentication required"}
    own = {"Origin": PUBLIC, "X-Forwarded-For": "203.0.113.9"}
    assert anonymous(realtime, own) == "connected"


def unseen_message(realtime, db):
    """(the sender, the receiver) of a message the receiver has not seen yet."""
    sender, receiver = make_user(db), make_user(db)
    sent = post(f"{realtime}/messages/send/{receiver['_id']}", bearer(token(sender)),
                json={"text": "hello"})
    assert sent.status_code == 201, sent.text
    return sender, receiver


CONVERSATIONS = ["/messages/{}", "/api/messages/{}"]


@pytest.mark.parametrize("path", CONVERSATIONS)
@pytest.mark.parametrize("headers", CROSS_SITE.values(), ids=CROSS_SITE.keys())
def test_a_cross_site_conversation_read_marks_nothing_seen(realtime, db, path, headers):
    """A link or an image on another site, with the cookie alone, marked the victim's
    messages seen (and told the sender): it may read nothing either, but it changes
    nothing now."""
    sender, receiver = unseen_message(realtime, db)
    response = requests.get(f"{realtime}{path.format(sender['_id'])}", timeout=10,
                            headers=cookie(token(receiver), **headers))
    assert response.status_code == 200
    assert db.messages.find_one()["seen"] is False


TRUSTED_READS = {
    "bearer": lambda session: bearer(session),
    "QuickChat's token header": lambda session: {"token": session},
    "same-origin page": lambda session: cookie(session, **{"Sec-Fetch-Site": "same-origin"}),
    "typed in the address bar": lambda session: cookie(session, **{"Sec-Fetch-Site": "none"}),
    "the configured frontend": lambda session: cookie(
        session, Origin=FRONTEND, **{"Sec-Fetch-Site": "cross-site"}),
}


@pytest.mark.parametrize("headers", TRUSTED_READS.values(), ids=TRUSTED_READS.keys())
def test_a_trusted_quickchat_read_marks_the_messages_seen(realtime, db, headers):
    sender, receiver = unseen_message(realtime, db)
    response = requests.get(f"{realtime}/api/messages/{sender['_id']}", timeout=10,
                            headers=headers(token(receiver)))
    assert response.status_code == 200
    assert db.messages.find_one()["seen"] is True
    assert all(message["seen"] for message in response.json()["messages"])


@pytest.mark.parametrize("headers", TRUSTED_READS.values(), ids=TRUSTED_READS.keys())
def test_a_native_read_marks_nothing_even_when_trusted(realtime, db, headers):
    """Ridewire's own GET only reads; its POST /messages/{id}/seen marks."""
    sender, receiver = unseen_message(realtime, db)
    response = requests.get(f"{realtime}/messages/{sender['_id']}", timeout=10,
                            headers=headers(token(receiver)))
    assert response.status_code == 200
    assert db.messages.find_one()["seen"] is False
