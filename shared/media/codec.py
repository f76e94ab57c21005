"""An uploaded image decoded and re-encoded with Pillow, and nothing else: no app, no
database, so that it runs in a worker process (shared.media.pool) that
imports only this.

    data, content_type = reencode(data, max_ratio=200)   # or ImageRefused(message)

Before any pixel is decoded, the header's pixel count is bounded (MAX_IMAGE_PIXELS) and
so is the decoded size against the file's: an image decoding to more than `max_ratio`
times its bytes is refused (a 967-byte lossless WebP of 4096 x 4096 pixels decodes to
50 MB and cost seconds of CPU), unless it decodes to RATIO_FREE_BYTES or less.
"""
import io

from PIL import Image, ImageOps

MAX_IMAGE_PIXELS = 4096 * 4096  # a 12-megapixel phone photo fits; decoded RGBA 64 MiB
RATIO_FREE_BYTES = 4 * 1024 * 1024  # a megapixel of RGBA: cheap whatever its file size
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp"}
OPENED = ["PNG", "JPEG", "WEBP"]  # Pillow's JPEG reader also answers MPO (multi-picture)
SAVE_AS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
QUALITY = 90  # lossy re-encoding (WebP, and JPEG that is not a plain JPEG file)
KEPT_INFO = ("transparency",)  # what a palette PNG needs to keep its transparent pixels
INVALID = "Image must be a PNG, JPEG or WebP data URL"
TOO_MANY_PIXELS = f"Image must be at most {MAX_IMAGE_PIXELS} pixels"
TOO_COMPRESSED = "Image decodes to too many bytes for its file size"


class ImageRefused(ValueError):
    """An image that is not stored; its message is safe to show."""


def reencode(data, max_ratio):
    """`(bytes, content_type)`: the pixels of `data` in a fresh file of its own format."""
    try:
        with Image.open(io.BytesIO(data), formats=OPENED) as image:
            check_size(image, len(data), max_ratio)
            content_type = FORMATS[image.format]
            return encode(image, SAVE_AS[content_type]), content_type
    except Image.DecompressionBombError:
        raise ImageRefused(TOO_MANY_PIXELS) from None
    except ImageRefused:
        raise
    except Exception:  # Pillow's parsers raise many kinds of errors on hostile bytes
        raise ImageRefused(INVALID) from None


def check_size(image, file_bytes, max_ratio):
    """Refuse, from the header alone, too many pixels or a decoded size out of
    proportion to the file's."""
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise ImageRefused(TOO_MANY_PIXELS)
    decoded = image.width * image.height * len(image.getbands())
    if decoded > max(RATIO_FREE_BYTES, max_ratio * file_bytes):
        raise ImageRefused(TOO_COMPRESSED)


def encode(image, fmt):
    """The first frame of `image`, turned upright, saved as `fmt` with no metadata."""
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    image.info = {key: image.info[key] for key in KEPT_INFO if key in image.info}
    # A JPEG keeps its own quantization tables: no second round of quality loss.
    quality = "keep" if fmt == "JPEG" and image.format == "JPEG" else QUALITY
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": quality} if fmt != "PNG" else {}))
    return out.getvalue()
