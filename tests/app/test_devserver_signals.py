"""`make run` forks with Ctrl-C and SIGTERM held, and its threads never take them: a
Python signal handler run inside the fork's own clean-up (logging's at-fork lock
release) had its exception ignored, so a Ctrl-C during start-up was lost, and the
logging lock stayed taken for the next fork."""
import os
import queue
import signal
import subprocess
import sys

from devserver.processes import background, die_with_parent, stops_held

STOPS = {signal.SIGINT, signal.SIGTERM}


def test_a_stop_signal_held_during_a_fork_is_delivered_after_it():
    received = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append("handled"))
    try:
        with stops_held():
            assert STOPS <= signal.pthread_sigmask(signal.SIG_BLOCK, [])
            os.kill(os.getpid(), signal.SIGINT)
            subprocess.run([sys.executable, "-c", "pass"], check=True)
        assert STOPS.isdisjoint(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        assert received == ["handled"]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_background_threads_never_take_a_stop_signal():
    masks = queue.Queue()
    background(lambda: masks.put(signal.pthread_sigmask(signal.SIG_BLOCK, []))).join(5)
    assert STOPS <= masks.get(timeout=5)


def test_children_start_with_nothing_held():
    code = "import signal; print(sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))"
    with stops_held():
        child = subprocess.run([sys.executable, "-c", code], preexec_fn=die_with_parent,
                               capture_output=True, text=True, check=True)
    assert "SIGINT" not in child.stdout and "SIGTERM" not in child.stdout, child.stdout
