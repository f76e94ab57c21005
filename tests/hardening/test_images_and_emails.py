"""Stored images
are decoded and re-encoded (never the bytes sent), served so a browser cannot run them;
lookalike spellings of one email are one account."""
import io
import struct
import uuid
import zlib

import pytest
import requests
from PIL import Image

from shared.media import codec
from shared.media import service as media

from ..auth_api import PNG_1PX, data_url
from ..conftest import serve
from ..factories import PASSWORD, make_user

SECRET = "a-production-secret-of-at-least-32-chars"
HTML = b"<html><script>alert(document.cookie)</script></html>"
INVALID_EMAIL = [{"msg": "Invalid Email", "param": "email", "location": "body"}]


@pytest.fixture(scope="module")
def production_auth(mongo_uri, tmp_path_factory):
    service = serve("auth_service", mongo_uri, tmp_path_factory.mktemp("prod-auth-media"),
                    APP_ENV="production", JWT_SECRET_KEY=SECRET, RATELIMIT_ENABLED="true",
                    LOGIN_RATE_LIMIT="1000 per minute", REGISTER_RATE_LIMIT="1000 per minute")
    yield service
    service.stop()


def post(service, path, body, token=None, method="POST"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, service.url + path, json=body, headers=headers, timeout=10)


def register(service, email, path="/users/register"):
    body = {"fullname": {"firstname": "Mallory"}, "email": email, "password": PASSWORD}
    return post(service, path, body)


def fresh(domain="example.com"):
    return f"m-{uuid.uuid4().hex[:10]}@{domain}"


def encoded(fmt, size=(8, 8), mode="RGB", **save):
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 128)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def exif():
    tags = Image.Exif()
    tags[0x010F] = "SecretCam"  # Make
    tags[0x8298] = "owner@example.com"  # Copyright
    return tags.tobytes()


def png_claiming(width, height):
    """A small PNG whose header claims `width` x `height` pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    header = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return PNG_1PX[:8] + header + PNG_1PX[33:]


def upload(service, picture):
    user = register(service, fresh()).json()
    return post(service, "/users/profile", {"profilePic": picture}, user["token"], "PATCH")


# Row 8: images


def test_html_behind_a_png_signature_is_refused(production_auth, db):
    """Only the magic bytes were checked, so this was stored and served."""
    for fake in (b"\x89PNG\r\n\x1a\n" + HTML, b"\xff\xd8\xff\xe0" + HTML,
                 b"RIFF\x00\x00\x00\x00WEBPVP8 " + HTML):
        response = upload(production_auth, data_url(fake))
        assert response.status_code == 400, fake
        assert response.json() == {"errors": [
            {"msg": media.INVALID, "param": "profilePic", "location": "body"}]}
    assert db["media.files"].count_documents({}) == 0


@pytest.mark.parametrize("fmt, content_type, extra", [
    ("PNG", "image/png", {"exif": exif()}),
    ("JPEG", "image/jpeg", {"exif": exif(), "quality": 90}),
    ("WEBP", "image/webp", {"exif": exif()}),
])
def test_stored_images_are_re_encoded_without_metadata_or_trailers(
        production_auth, db, fmt, content_type, extra):
    """A real image with metadata and HTML appended: stored as the pixels only."""
    sent = encoded(fmt, **extra) + HTML
    response = upload(production_auth, data_url(sent, "text/html"))
    assert response.status_code == 200, response.text
    image = requests.get(production_auth.url + response.json()["user"]["profilePic"], timeout=10)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == content_type
    assert image.content != sent
    assert b"<script>" not in image.content and b"SecretCam" not in image.content
    stored = Image.open(io.BytesIO(image.content))
    assert stored.format == fmt and stored.size == (8, 8)
    assert not stored.getexif() and "exif" not in stored.info


def test_images_are_served_sandboxed_and_as_attachments_of_their_type(production_auth, db):
    """Served without CSP sandbox or Content-Disposition."""
    url = upload(production_auth, data_url(PNG_1PX)).json()["user"]["profilePic"]
    response = requests.get(production_auth.url + url, timeout=10)
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    file_id = url.rsplit("/", 1)[1]
    assert response.headers["Content-Disposition"] == f'inline; filename="{file_id}.png"'


def test_a_decompression_bomb_is_refused_before_it_is_decoded(production_auth, db):
    bomb = png_claiming(100_000, 100_000)
    assert len(bomb) < 100
    response = upload(production_auth, data_url(bomb))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"msg": codec.TOO_MANY_PIXELS, "param": "profilePic", "location": "body"}]
    assert db["media.files"].count_documents({}) == 0


def test_animated_and_unsupported_formats(auth_app, db):
    """GIF stays refused (the contract takes PNG, JPEG, WebP); a truncated PNG too."""
    from shared.errors import Invalid

    for data in (encoded("GIF"), encoded("PNG")[:40], encoded("BMP")):
        with auth_app.app_context(), pytest.raises(Invalid):
            media.save_image(data_url(data), "owner")
    assert db["media.files"].count_documents({}) == 0


# Row 13: emails


@pytest.mark.parametrize("path", ["/users/register", "/captains/register"])
def test_lookalike_spellings_of_one_email_are_one_account(production_auth, db, path):
    """The full-width spelling registered a second account."""
    local = f"m-{uuid.uuid4().hex[:10]}"
    body = {"fullname": {"firstname": "Mallory"}, "email": f"{local}@example.com",
            "password": PASSWORD}
    if path.startswith("/captains"):
        body["vehicle"] = {"color": "black", "plate": f"MM {local[-6:]}", "capacity": 4,
                           "vehicleType": "car"}
    assert post(production_auth, path, body).status_code == 201
    for spelling in (f"{local}@ｅxample.com", f"{local.upper()}@EXAMPLE.com",
                     f"{local}＠ｅｘａｍｐｌｅ．ｃｏｍ"):
        again = post(production_auth, path, {**body, "email": spelling})
        assert again.status_code == 409, (spelling, again.text)
        login = post(production_auth, path.replace("register", "login"),
                     {"email": spelling, "password": PASSWORD})
        assert login.status_code == 200, spelling
    collection = db.users if path.startswith("/users") else db.captains
    assert collection.count_documents({"email": {"$regex": local}}) == 1


@pytest.mark.parametrize("email", ["m-cyr@exаmple.com", "m-xn@xn--exmple-4nf.com",
                                   '"m-quoted"@example.com', "m-greek@εxample.com"])
def test_quoted_and_mixed_script_emails_are_a_400_on_email(production_auth, db, email):
    """A Cyrillic "а" in a Latin domain and a quoted local part
    registered as separate accounts."""
    for path in ("/users/register", "/users/login"):
        body = {"fullname": {"firstname": "Mallory"}, "email": email, "password": PASSWORD}
        response = post(production_auth, path, body)
        assert response.status_code == 400, (path, response.text)
        assert response.json() == {"errors": INVALID_EMAIL}
    assert db.users.count_documents({}) == 0


def test_accounts_stored_before_keep_logging_in(production_auth, db):
    """Accounts in the database with plain lower-case emails keep working, whatever the
    spelling typed at login."""
    user = make_user(db, email=fresh())
    for spelling in (user["email"], user["email"].upper(), user["email"].replace("e", "ｅ")):
        response = post(production_auth, "/users/login",
                        {"email": spelling, "password": PASSWORD})
        assert response.status_code == 200, spelling
        assert response.json()["user"]["_id"] == str(user["_id"])


def test_quickchat_signup_folds_lookalikes_too(auth_app, db):
    def send(path, **changes):
        body = {"fullName": "Mallory M", "email": "mm@example.com", "password": PASSWORD,
                "bio": "hi", **changes}
        return auth_app.test_client().post(path, json=body).get_json()

    assert send("/api/auth/signup")["success"] is True
    assert send("/api/auth/signup", email="mm@ｅxample.com") == {
        "success": False, "message": "Account already exists."}
    assert send("/api/auth/login", email="MM@ｅxample.com")["success"] is True
    assert send("/api/auth/signup", email="mm@exаmple.com")["success"] is False
    assert db.users.count_documents({}) == 1
