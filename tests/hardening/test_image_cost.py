"""What an uploaded image may cost, against both services as production runs them (a real
secret, rate limits on): a decoded size out of proportion to the file is refused before
decoding, each account has its own image quota (profile pictures and chat images), and
the decoding runs off the realtime process's event loop, whose /healthz stays fast."""
import io
import os
import threading
import time

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
QUOTA = 5  # IMAGE_UPLOAD_RATE_LIMIT's default per minute
HEALTHZ_MAX_SECONDS = 1.0  # the image alone is over 3 s of CPU; a loaded machine adds


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


def heavy():
    """A 4096 x 4096 lossy WebP of smooth noise, about 3 MB (decoded 17 times its
    size): allowed, and seconds of CPU to decode and re-encode."""
    small = Image.frombytes("L", (512, 512), os.urandom(512 * 512))
    large = small.resize((4096, 4096), Image.Resampling.BICUBIC)
    rgb = Image.merge("RGB", (large, large.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                              large.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    return webp(rgb, quality=80)


def picture(n):
    """A small distinct PNG data URL."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (n % 256, 30, 30)).save(out, "PNG")
    return data_url(out.getvalue())


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


def test_profile_pictures_have_a_quota_per_account(production_auth, db):
    """PATCH /users/profile with a picture cost 2-4 s and had no limit at all."""
    alice = make_user(db)
    for n in range(QUOTA):
        assert update_profile(production_auth, alice, {"profilePic": picture(n)}).ok
    refused = update_profile(production_auth, alice, {"profilePic": picture(QUOTA)})
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too many images, try again later"}
    assert int(refused.headers["Retry-After"]) > 0
    assert update_profile(production_auth, alice, {"bio": "no picture"}).ok
    assert update_profile(production_auth, make_user(db), {"profilePic": picture(0)}).ok


def test_chat_images_have_a_quota_per_account_within_the_chat_limit(production_realtime, db):
    alice, bob = make_user(db), make_user(db)
    for n in range(QUOTA):
        assert send(production_realtime, alice, bob, {"image": picture(n)}).status_code == 201
    refused = send(production_realtime, alice, bob, {"image": picture(QUOTA)})
    assert refused.status_code == 429
    assert send(production_realtime, alice, bob, {"text": "words still go"}).status_code == 201


def test_healthz_stays_fast_while_a_heavy_image_is_decoded(production_realtime, db):
    """Decoding and re-encoding ran on the gevent worker's only thread: /healthz of the
    realtime process stalled for as long (3.5 s; 8.5 s on a loaded machine). This is
    the process's first image: its worker process starts too."""
    image, alice, bob = data_url(heavy()), make_user(db), make_user(db)
    answer = {}
    sender = threading.Thread(target=lambda: answer.update(
        response=send(production_realtime, alice, bob, {"image": image})))
    started = time.monotonic()
    sender.start()
    latencies = []
    while sender.is_alive():
        before = time.monotonic()
        requests.get(f"{production_realtime.url}/healthz", timeout=30).raise_for_status()
        latencies.append(time.monotonic() - before)
        time.sleep(0.02)
    sender.join()
    assert answer["response"].status_code == 201
    assert time.monotonic() - started > 1.0, "the image was not heavy enough to tell"
    assert max(latencies) < HEALTHZ_MAX_SECONDS, f"/healthz took {max(latencies):.2f} s"


@pytest.fixture(scope="module")
def one_image_at_a_time(mongo_uri, tmp_path_factory):
    service = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("image-busy"),
                    **PRODUCTION, IMAGE_WORKERS=1, IMAGE_QUEUE=0)
    yield service
    service.stop()


def test_an_image_past_the_queue_is_refused_not_queued(one_image_at_a_time, db):
    """IMAGE_WORKERS + IMAGE_QUEUE images per process at most; the next one is a 503."""
    image, alice, bob = data_url(heavy()), make_user(db), make_user(db)
    answer = {}
    first = threading.Thread(target=lambda: answer.update(
        response=send(one_image_at_a_time, alice, bob, {"image": image})))
    first.start()
    time.sleep(0.5)
    refused = send(one_image_at_a_time, bob, alice, {"image": image})
    first.join()
    assert answer["response"].status_code == 201
    assert refused.status_code == 503
    assert refused.json() == {"message": "Images cannot be processed right now, try again later"}
    assert int(refused.headers["Retry-After"]) > 0


def test_a_process_that_decoded_images_stops_without_a_traceback(mongo_uri, tmp_path, db):
    """The image workers end with the service's own stop, not at interpreter exit (where
    the pool's clean-up runs after multiprocessing is torn down and prints a traceback)."""
    service = serve("realtime_service", mongo_uri, tmp_path, **PRODUCTION)
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(picture, "PNG")
    try:
        sent = send(service, make_user(db), make_user(db),
                    {"image": data_url(picture.getvalue())})
        assert sent.status_code == 201, sent.text
    finally:
        service.stop(30)
    log = service.log_path.read_text()
    assert "stopped" in log
    assert "Exception ignored" not in log and "Traceback" not in log, log
