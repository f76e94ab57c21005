"""CPU-heavy work off the gevent loop: a pool of worker processes, made on first use.

    result = run(function, *args, workers=1, queue=4)   # or Busy

A gevent server has one thread for all its requests and sockets. Pillow's decoders
and encoders release the GIL for most of their work but not all: in a thread, a
16-megapixel WebP still held the loop for 50-80 ms at a time, while in a worker
process the loop never waited more than about 10 ms. The workers start from a fresh
interpreter (the spawn method: never a copy of a serving process with its sockets and
its hub, and nothing the serving loop waits for while one starts), run niced so that
the serving loop gets a core first, and end with the serving process, their parent.

At most `workers` jobs run at once and `queue` more wait; one more is refused
(Busy) instead of waiting. Outside a gevent server (tests, scripts) `function` runs
in place. `function` and its arguments must pickle: a module-level function.
"""
import atexit
import concurrent.futures
import ctypes
import multiprocessing
import os
import signal

NICE = 10
PR_SET_PDEATHSIG = 1

_pool = None
_pool_pid = None
_in_flight = 0


class Busy(Exception):
    """The pool holds as many jobs as it may, or lost a worker: try again later."""


def gevent_patched():
    """Whether this process is a gevent server (its socket module monkey-patched)."""
    from gevent import monkey

    return monkey.is_module_patched("socket")


def run(function, *args, workers=1, queue=4):
    """`function(*args)` in a worker process under gevent, in place otherwise."""
    if not gevent_patched():
        return function(*args)
    global _in_flight
    if _in_flight >= workers + queue:
        raise Busy("every image worker is busy")
    _in_flight += 1
    try:
        return _submit(_executor(workers), function, args)
    finally:
        _in_flight -= 1


def _submit(pool, function, args):
    try:
        return pool.submit(function, *args).result()
    except concurrent.futures.process.BrokenProcessPool:
        _discard(pool)
        raise Busy("an image worker died") from None


def _executor(workers):
    """This process's pool (a process forked from one that had a pool makes its own)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        context = multiprocessing.get_context("spawn")
        _pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=worker_started)
        _pool_pid = os.getpid()
    return _pool


@atexit.register
def _forget_pool():
    """Let the pool go while the interpreter is whole: collected during its teardown,
    the pool's clean-up callback finds multiprocessing gone and prints a traceback."""
    global _pool
    _pool = None


def _discard(pool):
    """Drop a broken pool; the next job makes a new one."""
    global _pool
    if _pool is pool:
        _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def worker_started():
    """In a worker: yield the CPU to serving processes, and end with the serving
    process, its parent, even when that is killed."""
    os.nice(NICE)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the pool's own shutdown still ends the workers
        pass
