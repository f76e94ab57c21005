"""Ride routes (/rides). Owned by the rides issue."""
from flask import Blueprint

bp = Blueprint("rides", __name__, url_prefix="/rides")
