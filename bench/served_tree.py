"""Serving the realtime service from another source tree, for an A/B of server code: the
scenario runs from this tree, the served process from `tree` (a `git worktree` of the
other commit), and the result says where that process imported its code from."""
import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import common

PROJECT = {"realtime_service", "shared", "auth_service", "compat", "devserver"}
PROBE = ("import importlib.util as u; "
         "print(u.find_spec('realtime_service').origin); print(u.find_spec('shared').origin)")


def serve_realtime(stack, tree=None, **env):
    """`stack.serve("realtime_service", **env)`, from `tree` when given (its working
    directory, PYTHONPATH and gunicorn settings); returns `(service, served)`, where
    `served` says what the worker runs."""
    if not tree:
        service = stack.serve("realtime_service", **env)
        return service, served_from(common.worker_pid(service), None, None)
    root = Path(tree).resolve()
    if not (root / "realtime_service").is_dir():
        raise SystemExit(f"BENCH_SERVER_TREE={tree}: no realtime_service there")
    # `python -m gunicorn` puts its working directory first on sys.path; the child
    # inherits ours at its start. Its bytecode goes to a fresh directory of its own,
    # where the path of every module it compiled shows (nothing is written in `tree`).
    pycache = Path(tempfile.mkdtemp(prefix="pycache-", dir=stack.tmp))
    with contextlib.chdir(root):
        service = stack.serve("realtime_service", config=root / "deploy" / "gunicorn_realtime.py",
                              PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="",
                              PYTHONPYCACHEPREFIX=str(pycache), **env)
    return service, served_from(common.worker_pid(service), root, pycache)


def served_from(pid, root, pycache):
    """The worker's working directory, PYTHONPATH and command line, where its
    environment resolves `realtime_service` and `shared`, and (with a tree) how many
    modules of the tree's realtime_service it compiled."""
    environ = dict(entry.split("=", 1) for entry in
                   Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in entry)
    cwd = os.readlink(f"/proc/{pid}/cwd")
    probe = subprocess.run([sys.executable, "-B", "-c", PROBE], cwd=cwd, capture_output=True,
                           text=True, env={**environ, "PYTHONDONTWRITEBYTECODE": "1"},
                           timeout=60, check=True)
    realtime, shared = probe.stdout.split()
    served = {"tree": str(root) if root else None, "worker_pid": pid, "worker_cwd": cwd,
              "worker_pythonpath": environ.get("PYTHONPATH"),
              "worker_cmdline": Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1],
              "realtime_service": realtime, "shared": shared}
    if root is not None:
        mine = pycache / root.relative_to("/")
        served["tree_modules_compiled"] = sum(1 for _ in (mine / "realtime_service").rglob("*.pyc"))
        served["project_modules_compiled_elsewhere"] = sorted(
            str(pyc.relative_to(pycache)) for pyc in pycache.rglob("*.pyc")
            if not pyc.is_relative_to(mine) and PROJECT & set(pyc.parts))
        if not realtime.startswith(str(root)) or not served["tree_modules_compiled"] \
                or served["project_modules_compiled_elsewhere"]:
            raise SystemExit(f"the realtime worker does not run {root}: {served}")
    return served
