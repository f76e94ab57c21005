"""Code shared by both services: config, database, models, tokens, errors, validation, media."""
