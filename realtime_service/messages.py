"""Chat routes (/messages). Owned by the realtime issue."""
from flask import Blueprint

bp = Blueprint("messages", __name__, url_prefix="/messages")
