"""Scenario 6: scenario 1 with two realtime processes behind one Redis.

Half the users hold their websocket on each process; every pair has its sender on
one process and its receiver on the other, so every `newMessage` crosses Redis
(the worst case for a sticky gateway). Presence lives in Redis too.
"""
from bench import push_latency

SIZES = push_latency.SIZES


def run(size="full", out_dir=None):
    return push_latency.run(size, out_dir, processes=2, name="scaleout")


if __name__ == "__main__":
    import sys

    run(sys.argv[1] if len(sys.argv) > 1 else "full")
