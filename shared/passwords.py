"""bcrypt hashing and checking, off the event loop.

One hash at cost 12 is ~0.3 s of CPU. Under the gevent server (socket module
monkey-patched) it runs in the hub's thread pool, where bcrypt releases the GIL,
so the loop keeps serving other requests; elsewhere (tests, scripts) it is a
plain call. A semaphore caps how many hashes run at once (BCRYPT_MAX_CONCURRENCY).

    hashed = hash_password("secret123")
    check_password("secret123", hashed)   # True
    check_password("secret123", None)     # False, after the same work (dummy hash)
"""
import threading

import bcrypt
from flask import current_app

MAX_BYTES = 72  # bcrypt ignores (bcrypt 5: refuses) anything longer

_lock = threading.Lock()
_semaphores = {}
_dummy_hashes = {}


def _gevent_patched():
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("socket")


def _semaphore():
    """One semaphore per (kind, size): gevent's when patched, threading's otherwise."""
    patched = _gevent_patched()
    size = current_app.config["BCRYPT_MAX_CONCURRENCY"]
    with _lock:
        key = (patched, size)
        if key not in _semaphores:
            if patched:
                from gevent.lock import BoundedSemaphore
            else:
                from threading import BoundedSemaphore
            _semaphores[key] = BoundedSemaphore(size)
        return _semaphores[key]


def _run(func, *args):
    with _semaphore():
        if _gevent_patched():
            import gevent

            return gevent.get_hub().threadpool.apply(func, args)
        return func(*args)


def _encode(password):
    data = password.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise ValueError(f"password longer than {MAX_BYTES} bytes")
    return data


def hash_password(password, rounds=None):
    """The bcrypt hash (str) of `password` at BCRYPT_ROUNDS (or `rounds`)."""
    rounds = rounds or current_app.config["BCRYPT_ROUNDS"]
    salt = bcrypt.gensalt(rounds)
    return _run(bcrypt.hashpw, _encode(password), salt).decode()


def _dummy_hash():
    rounds = current_app.config["BCRYPT_ROUNDS"]
    with _lock:
        cached = _dummy_hashes.get(rounds)
    if cached is None:
        cached = _run(bcrypt.hashpw, b"not-a-real-password", bcrypt.gensalt(rounds))
        with _lock:
            _dummy_hashes.setdefault(rounds, cached)
    return _dummy_hashes[rounds]


def check_password(password, hashed):
    """True when `password` matches `hashed`. With `hashed` None (unknown account) the
    check runs against a dummy hash of the same cost, so both answers take as long."""
    try:
        data = _encode(password)
    except ValueError:
        data = None
    target = hashed.encode() if hashed else _dummy_hash()
    if data is None:
        # Still spend the same time: check a fixed wrong password against the hash.
        _run(bcrypt.checkpw, b"\0" * 8, target)
        return False
    matched = _run(bcrypt.checkpw, data, target)
    return bool(matched and hashed)
