"""What the embedded SecantusDB needs from its clients, in one place (no imports: the
gunicorn configs read Config before gevent patches the standard library).

EMBEDDED_URI_OPTIONS: retryWrites=false (SecantusDB has no retryable writes; real MongoDB
accepts it) and a small connection pool, since with a worker's default of 100 operations
in flight its single storage lock convoys and the service stalls (RELIABILITY.md, the
soak).
"""
EMBEDDED_URI_OPTIONS = "directConnection=true&retryWrites=false&maxPoolSize=16"
