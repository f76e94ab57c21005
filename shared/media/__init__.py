"""Media: images uploaded as data URLs, re-encoded and stored in GridFS, served at /media/<id>."""
