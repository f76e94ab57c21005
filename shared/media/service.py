"""Images stored in GridFS (bucket `media`) and served by the auth service at
`/media/<id>`.

    url = save_image(data_url, owner_id, param="profilePic")   # "/media/<24-hex id>"

What is stored is never the bytes sent: Pillow decodes the image (PNG, JPEG or WebP,
whatever the data URL declares), its header's pixel count and decoded size bounded
before any pixel is decoded (decompression bombs, IMAGE_MAX_COMPRESSION_RATIO), and
re-encodes it in the same format without metadata (EXIF, text chunks) or trailing
bytes, so HTML behind an image signature never reaches a browser
(shared.media.codec). An animated image keeps its first frame. Decoding
runs in a worker process (shared.media.pool), never on a server's event
loop, and each account may store IMAGE_UPLOAD_RATE_LIMIT images (profile pictures
and chat images together). Ids are random (not time-ordered ObjectIds) so that one
URL does not let anyone guess the next.
"""
import base64
import binascii
import re
import secrets

import gridfs
from bson import ObjectId
from bson.errors import InvalidId
from flask import current_app

from shared.errors import ApiError, Invalid
from shared.extensions import mongo
from shared.media import codec, pool
from shared.media.codec import INVALID
from shared.ratelimit import spend_or_refuse

BUCKET = "media"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
URL_PREFIX = "/media/"
DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*);base64,", re.ASCII)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
TOO_LARGE = "Image must be at most 5 MiB"
TOO_MANY_IMAGES = "Too many images, try again later"
BUSY = "Images cannot be processed right now, try again later"
UPLOAD_SCOPE = "image-uploads"


def _bucket():
    return gridfs.GridFSBucket(mongo.db, bucket_name=BUCKET)


def decode_image(data_url, param="image", location="body"):
    """`(bytes, content_type)` of the re-encoded image of a base64 data URL; Invalid otherwise."""

    def fail(message):
        return Invalid([{"msg": message, "param": param, "location": location}])

    match = DATA_URL.match(data_url) if isinstance(data_url, str) else None
    if not match:
        raise fail(INVALID)
    encoded = data_url[match.end():]
    if len(encoded) > (MAX_IMAGE_BYTES + 2) // 3 * 4:
        raise fail(TOO_LARGE)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise fail(INVALID) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise fail(TOO_LARGE)
    try:
        return reencode(data)
    except codec.ImageRefused as error:
        raise fail(str(error)) from None


def reencode(data):
    """`(bytes, content_type)` of image bytes, re-encoded in a worker process; 503 when
    every worker is busy."""
    config = current_app.config
    try:
        return pool.run(codec.reencode, data, config["IMAGE_MAX_COMPRESSION_RATIO"],
                              workers=config["IMAGE_WORKERS"], queue=config["IMAGE_QUEUE"])
    except pool.Busy:
        raise ApiError(503, BUSY, headers={"Retry-After": "1"}) from None


def save_image(data_url, owner_id, param="image", location="body"):
    """Store the image of a data URL and return its public URL path "/media/<id>"; each
    counts against its owner's IMAGE_UPLOAD_RATE_LIMIT before it is decoded (429)."""
    spend_or_refuse("IMAGE_UPLOAD_RATE_LIMIT", UPLOAD_SCOPE, f"account:{owner_id}",
                    TOO_MANY_IMAGES)
    data, content_type = decode_image(data_url, param, location)
    file_id = ObjectId(secrets.token_bytes(12))
    _bucket().upload_from_stream_with_id(
        file_id, str(file_id), data,
        metadata={"contentType": content_type, "owner": str(owner_id)},
    )
    return f"{URL_PREFIX}{file_id}"


def media_id(url):
    """The file id of one of our media URLs, or None."""
    if not isinstance(url, str) or not url.startswith(URL_PREFIX):
        return None
    try:
        return ObjectId(url[len(URL_PREFIX):])
    except InvalidId:
        return None


def load_image(file_id):
    """`(bytes, content_type)` of a stored image, or None when there is none."""
    try:
        stream = _bucket().open_download_stream(file_id)
    except gridfs.errors.NoFile:
        return None
    metadata = stream.metadata or {}
    return stream.read(), metadata.get("contentType", "application/octet-stream")


def delete_image(url, owner_id):
    """Delete one of our images if `owner_id` stored it (e.g. a replaced profile picture)."""
    file_id = media_id(url)
    if file_id is None:
        return
    found = mongo.db[f"{BUCKET}.files"].find_one(
        {"_id": file_id, "metadata.owner": str(owner_id)}, {"_id": 1})
    if found:
        try:
            _bucket().delete(file_id)
        except gridfs.errors.NoFile:
            pass
