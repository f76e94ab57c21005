"""GET /media/<id>: images stored by the API."""
from flask import make_response, request

from shared.errors import NotFound
from shared.media import service
from shared.validation import object_id
from shared.web import Blueprint

media_routes = Blueprint("media", __name__, url_prefix="/media", description="Stored images")
CACHE_FOREVER = "public, max-age=31536000, immutable"
# Opened directly, an image (even one stored before re-encoding) is an inert document:
# no scripts, no sniffing as HTML.
SANDBOX = "sandbox"
IMAGE = {"description": "The image bytes", "content": {
    kind: {"schema": {"type": "string", "format": "binary"}}
    for kind in ("image/png", "image/jpeg", "image/webp")}}


@media_routes.get("/<media_id>")
@media_routes.doc(responses={"200": IMAGE, "304": {"description": "Not modified (ETag matched)"},
                   "400": "BAD_REQUEST", "404": "NOT_FOUND"})
def get_media(media_id):
    """A stored image.

    The bytes of an image stored by the API (profile pictures, chat images; re-encoded
    when stored) with its Content-Type, `Content-Security-Policy: sandbox`,
    `X-Content-Type-Options: nosniff` and `Content-Disposition: inline` with a file
    name. Images never change, so they are cached for a year and `If-None-Match` gets
    a 304."""
    file_id = object_id(media_id)
    etag = f'"{file_id}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = make_response("", 304)
    else:
        found = service.load_image(file_id)
        if found is None:
            raise NotFound("Image not found")
        data, content_type = found
        response = make_response(data)
        response.headers["Content-Type"] = content_type
        extension = service.EXTENSIONS.get(content_type, "bin")
        response.headers["Content-Disposition"] = f'inline; filename="{file_id}.{extension}"'
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = CACHE_FOREVER
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = SANDBOX
    return response
