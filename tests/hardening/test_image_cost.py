"""What an uploaded image may cost, against both services as production runs them (a real
secret, rate limits on): a decoded size out of proportion to the file is refused before
decoding."""
import io

import jwt
import pytest
import requests
from PIL import Image

from shared.media import codec

from ..auth_api import data_url
from ..conftest import serve
from ..factories import make_user
from .forge import claims

SECRET = "a-production-secret-of-at-least-32-chars"
PRODUCTION = {"APP_ENV": "production", "JWT_SECRET_KEY": SECRET, "RATELIMIT_ENABLED": "true"}


@pytest.fixture(scope="module")
def production_auth(mongo_uri, tmp_path_factory):
    service = serve("auth_service", mongo_uri, tmp_path_factory.mktemp("image-auth"),
                    **PRODUCTION)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def production_realtime(mongo_uri, tmp_path_factory):
    service = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("image-rt"),
                    **PRODUCTION)
    yield service
    service.stop()


def token(account):
    return jwt.encode(claims(account), SECRET, algorithm="HS256")


def webp(image, **save):
    out = io.BytesIO()
    image.save(out, "WEBP", **save)
    return out.getvalue()


def bomb():
    """A lossless WebP of 4096 x 4096 pixels of one colour: under a kilobyte, 50 MB
    decoded."""
    return webp(Image.new("RGB", (4096, 4096), (200, 30, 30)), lossless=True)


def update_profile(service, account, body):
    return requests.patch(f"{service.url}/users/profile", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {token(account)}"})


def send(service, sender, receiver, body):
    return requests.post(f"{service.url}/messages/send/{receiver['_id']}", json=body,
                         timeout=60, headers={"Authorization": f"Bearer {token(sender)}"})


def test_a_kilobyte_webp_of_16_megapixels_is_refused_by_its_ratio(
        production_auth, production_realtime, db):
    """It cost 3.6 s of CPU per chat send or profile picture, on the event loop."""
    data = bomb()
    assert len(data) < 1024
    alice, bob = make_user(db), make_user(db)
    refused = [update_profile(production_auth, alice, {"profilePic": data_url(data)}),
               send(production_realtime, alice, bob, {"image": data_url(data)})]
    assert [r.status_code for r in refused] == [400, 400]
    assert [r.json()["errors"][0]["msg"] for r in refused] == [codec.TOO_COMPRESSED] * 2
    assert db["media.files"].count_documents({}) == 0
