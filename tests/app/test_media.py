"""GridFS images: `shared.media.save_image` and `GET /media/<id>`."""
import io

import pytest
from PIL import Image

from shared.errors import Invalid
from shared.media import service as media

from ..auth_api import PNG_1PX, data_url


def encoded(fmt):
    out = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(out, fmt)
    return out.getvalue()


JPEG, WEBP = encoded("JPEG"), encoded("WEBP")


@pytest.mark.parametrize("data, content_type", [(PNG_1PX, "image/png"), (JPEG, "image/jpeg"),
                                                (WEBP, "image/webp")])
def test_save_and_serve_round_trip(auth_app, auth_client, data, content_type):
    with auth_app.app_context():
        url = media.save_image(data_url(data, "application/octet-stream"), "owner-1")
    assert url.startswith("/media/")
    response = auth_client.get(url)
    assert response.status_code == 200
    with auth_app.app_context():
        assert response.data == media.decode_image(data_url(data))[0]  # re-encoded when stored
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    assert etag == f'"{url.rsplit("/", 1)[1]}"'
    cached = auth_client.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b""


@pytest.mark.parametrize("value, message", [
    (data_url(b"GIF89a...."), media.INVALID),
    (data_url(b"\x89PN"), media.INVALID),
    ("data:text/plain;base64,aGVsbG8=", media.INVALID),
    ("not a data url", media.INVALID),
    (None, media.INVALID),
    (data_url(PNG_1PX + b"\0" * (5 * 1024 * 1024)), media.TOO_LARGE),
])
def test_save_image_rejects_with_the_callers_param(auth_app, db, value, message):
    with auth_app.app_context(), pytest.raises(Invalid) as raised:
        media.save_image(value, "owner-1", param="image", location="body")
    assert raised.value.errors == [{"msg": message, "param": "image", "location": "body"}]
    assert db["media.files"].count_documents({}) == 0


def test_ids_are_random_not_sequential(auth_app):
    with auth_app.app_context():
        first = media.save_image(data_url(PNG_1PX), "o")
        second = media.save_image(data_url(PNG_1PX), "o")
    first, second = first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]
    # ObjectIds made by one process share bytes 4-8 (a per-process random value) and
    # count up in bytes 9-11; random ids share neither.
    assert first[8:18] != second[8:18]
    assert int(second[18:], 16) - int(first[18:], 16) != 1


def test_bad_and_unknown_ids(auth_client):
    response = auth_client.get("/media/not-an-id")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["location"] == "params"
    response = auth_client.get("/media/" + "a" * 24)
    assert response.status_code == 404 and response.get_json() == {"message": "Image not found"}


def test_delete_image_only_for_its_owner(auth_app, auth_client):
    with auth_app.app_context():
        url = media.save_image(data_url(PNG_1PX), "owner-1")
        media.delete_image(url, "someone-else")
        assert auth_client.get(url).status_code == 200
        media.delete_image(url, "owner-1")
        assert auth_client.get(url).status_code == 404
        media.delete_image("https://elsewhere/x.png", "owner-1")  # not ours: ignored
