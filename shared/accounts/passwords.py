"""bcrypt hashing and checking, off the event loop.

One hash at cost 12 is ~0.3 s of CPU. It runs through the system's libcrypt where
that computes the same hash as the `bcrypt` package (shared.accounts.libcrypt: about
15 % less CPU), through the package otherwise; the hashes are the same `$2b$` ones.
Under the gevent server (socket module monkey-patched) it runs in a gevent thread
pool, where both release the GIL, so the loop keeps serving other requests and
hashes use every core; elsewhere (tests, scripts) it is a plain call. A semaphore
caps how many hashes run at once (BCRYPT_MAX_CONCURRENCY). The pool's threads lower
their own scheduling priority (nice +10, Linux): when the CPUs are busy hashing, the
loop thread still gets a core at once, so a login storm does not delay other requests.

    hashed = hash_password("secret123")
    check_password("secret123", hashed)   # True
    check_password("secret123", None)     # False, after the same work (dummy hash)
"""
import hmac
import os
import threading

import bcrypt
from flask import current_app

from shared.accounts import libcrypt

MAX_BYTES = 72  # bcrypt ignores (bcrypt 5: refuses) anything longer

HASH_THREAD_NICE = 10

_lock = threading.Lock()
_semaphores = {}
_dummy_hashes = {}
_pools = {}
_niced_threads = set()


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


def _threadpool():
    """The gevent thread pool for hashing (one per hub, i.e. per process)."""
    import gevent
    from gevent.threadpool import ThreadPool

    hub = gevent.get_hub()
    with _lock:
        pool = _pools.get(id(hub))
        if pool is None:
            pool = _pools[id(hub)] = ThreadPool(current_app.config["BCRYPT_MAX_CONCURRENCY"],
                                                hub=hub)
        return pool


def _lower_priority(func, *args):
    """Run in a pool thread: nice this OS thread once, then call `func`."""
    from gevent.monkey import get_original

    tid = get_original("threading", "get_native_id")()
    if tid not in _niced_threads:
        _niced_threads.add(tid)
        try:
            os.setpriority(os.PRIO_PROCESS, tid, HASH_THREAD_NICE)
        except (OSError, AttributeError):  # not Linux, or not permitted: just slower to yield
            pass
    return func(*args)


def _run(func, *args):
    with _semaphore():
        if _gevent_patched():
            return _threadpool().apply(_lower_priority, (func, *args))
        return func(*args)


def bcrypt_hash(data, setting):
    """The bcrypt hash (bytes) of `data` in `setting` (a salt, or a hash to check
    against): libcrypt's where it computes exactly the package's, else the package's."""
    crypt = libcrypt.crypt_function()
    if crypt is not None and libcrypt.handles(data, setting):
        hashed = crypt(data, setting)
        if hashed is not None:
            return hashed
    return bcrypt.hashpw(data, setting)


def bcrypt_check(data, hashed):
    """Whether `data` hashes to `hashed`, compared in constant time."""
    return hmac.compare_digest(bcrypt_hash(data, hashed), hashed)


def _encode(password):
    data = password.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise ValueError(f"password longer than {MAX_BYTES} bytes")
    return data


def hash_password(password, rounds=None):
    """The bcrypt hash (str) of `password` at BCRYPT_ROUNDS (or `rounds`)."""
    rounds = rounds or current_app.config["BCRYPT_ROUNDS"]
    salt = bcrypt.gensalt(rounds)
    return _run(bcrypt_hash, _encode(password), salt).decode()


def _dummy_hash():
    rounds = current_app.config["BCRYPT_ROUNDS"]
    with _lock:
        cached = _dummy_hashes.get(rounds)
    if cached is None:
        cached = _run(bcrypt_hash, b"not-a-real-password", bcrypt.gensalt(rounds))
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
        _run(bcrypt_check, b"not-the-password", target)
        return False
    matched = _run(bcrypt_check, data, target)
    return bool(matched and hashed)
