"""Summarize a py-spy profile in collapsed-stack form (`py-spy record --format raw`,
as BENCH_PROFILE=1 writes them): the functions with the most samples, on their own
(self) and with what they call (inclusive).

    .venv/bin/python -m bench.hotspots bench/profiles/push_latency-*.txt [--top 25]
"""
import argparse
from collections import Counter


def load(paths):
    own, inclusive, total = Counter(), Counter(), 0
    for path in paths:
        with open(path) as handle:
            for line in handle:
                stack, _, count = line.rstrip().rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                frames, count = stack.split(";"), int(count)
                total += count
                own[frames[-1]] += count
                for frame in set(frames):
                    inclusive[frame] += count
    return own, inclusive, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    own, inclusive, total = load(args.paths)
    print(f"{total} samples")
    for title, counter in (("self", own), ("inclusive", inclusive)):
        print(f"--- {title}")
        for frame, count in counter.most_common(args.top):
            print(f"{100 * count / max(total, 1):5.1f}%  {frame}")


if __name__ == "__main__":
    main()
