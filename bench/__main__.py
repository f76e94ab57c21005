"""`python -m bench [n ...] [--tiny] [--out DIR]`: run the scenarios (all by default)."""
import argparse
import importlib
import sys
import time

from bench.common import shared_servers

SCENARIOS = {
    "1": "bench.push_latency",
    "2": "bench.dispatch",
    "3": "bench.connections",
    "4": "bench.login_storm",
    "5": "bench.profile",
    "6": "bench.scaleout",
    "7": "bench.query_costs",
    "8": "bench.versus",
    "9": "bench.signaling",
    "10": "bench.city",
    "11": "bench.reconnect_storm",
    "12": "bench.idle_memory",
    "13": "bench.scale_curve",
    "14": "bench.churn",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", help="scenario numbers (default: all)")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes")
    parser.add_argument("--out", help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    chosen = args.scenarios or list(SCENARIOS)
    unknown = [n for n in chosen if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    started = time.monotonic()
    with shared_servers():
        for number in chosen:
            module = importlib.import_module(SCENARIOS[number])
            print(f"== scenario {number}: {module.__name__} ==", flush=True)
            module.run("tiny" if args.tiny else "full", args.out)
    print(f"== done in {time.monotonic() - started:.0f} s ==", flush=True)


if __name__ == "__main__":
    sys.exit(main())
