"""The video-meeting tutorial's frontend (Apna Video Call, a Create React App), built
unchanged to be served by the gateway.

Its source is cloned once into a cache outside the repository (RIDEWIRE_CACHE, by
default ~/.cache/ridewire; MEETINGS_FRONTEND_REPO names another place to clone from)
at a pinned commit. The build copies `frontend/`, drops the `client` dependency that
nothing imports (its install pulls tarballs from GitHub) from package.json and its
lock, sets the two server literals of `src/environment.js` to `make run`'s gateway
(BUILT_FOR), then runs `npm ci` and `npm run build`; the result is kept between runs.
A test serves a copy of it whose literal is its own gateway's origin: the literal is
a plain string in the bundle, the same replacement made after the build.
"""
import fcntl
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

REPO = "https://github.com/Abhishekx9/Apna-Video-Call"
COMMIT = "9282d8431ad5b43a492ab5e3a09774a0cc6e101d"
BUILT_FOR = "http://127.0.0.1:5000"  # `make run`'s gateway origin
SERVER_LITERALS = ('"https://apna-video-call-backend-8m8y.onrender.com"',
                   '"http://localhost:8000"')
UNUSED_DEPENDENCY = "client"
BUILD_ENV = {"CI": "false",  # CRA fails a CI build on the tutorial's lint warnings
             "GENERATE_SOURCEMAP": "false", "BROWSER": "none"}
STEP_TIMEOUT = 900


def cache_root():
    return Path(os.environ.get("RIDEWIRE_CACHE", "~/.cache/ridewire")).expanduser()


class BuildError(RuntimeError):
    """A step of the build failed; the message says which, with the end of its output."""


def run(command, cwd, log, env=None):
    """Run one step, its output appended to `log`; BuildError with the output's end."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, **(env or {})}, timeout=STEP_TIMEOUT,
                              check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise BuildError(f"`{' '.join(command)}` failed ({done.returncode}) in {cwd}; "
                         f"the end of {log}:\n{tail}")


@contextmanager
def locked(root):
    """One build at a time in the cache (test processes may run side by side)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "apna-video-call.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def checkout(root, log):
    """The tutorial's repository at COMMIT, cloned into the cache once."""
    source = root / "apna-video-call"
    if not (source / ".git").exists():
        shutil.rmtree(source, ignore_errors=True)
        run(["git", "clone", "--quiet", os.environ.get("MEETINGS_FRONTEND_REPO", REPO),
             str(source)], root, log)
    run(["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", COMMIT], source, log)
    return source


def set_server(work):
    """`src/environment.js` with its two server literals set to BUILT_FOR."""
    path = work / "src" / "environment.js"
    text = path.read_text()
    for literal in SERVER_LITERALS:
        assert literal in text, f"{path} no longer holds {literal}"
        text = text.replace(literal, f'"{BUILT_FOR}"')
    path.write_text(text)


def prepare(source, work, log):
    """A copy of `frontend/` ready for `npm ci`."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source / "frontend", work,
                    ignore=shutil.ignore_patterns("node_modules", "build"))
    set_server(work)
    run(["npm", "uninstall", UNUSED_DEPENDENCY, "--package-lock-only", "--ignore-scripts",
         "--no-audit", "--no-fund"], work, log)


def build():
    """The built frontend's folder (made once, then taken from the cache)."""
    root = cache_root()
    done = root / f"apna-video-call-build-{COMMIT[:12]}"
    with locked(root):
        if (done / "index.html").exists():
            return done
        log = root / "apna-video-call-build.log"
        log.write_text("")
        work = root / "apna-video-call-work"
        prepare(checkout(root, log), work, log)
        run(["npm", "ci", "--no-audit", "--no-fund"], work, log)
        run(["npm", "run", "build"], work, log, env=BUILD_ENV)
        shutil.rmtree(done, ignore_errors=True)
        shutil.copytree(work / "build", done)
        return done


def served_copy(built, origin, dest):
    """A copy of the build whose server literal is `origin`."""
    shutil.copytree(built, dest)
    bundles = list((dest / "static" / "js").glob("main.*.js"))
    replaced = 0
    for bundle in bundles:
        text = bundle.read_text()
        replaced += text.count(f'"{BUILT_FOR}"')
        bundle.write_text(text.replace(f'"{BUILT_FOR}"', f'"{origin}"'))
    assert replaced >= 1, f"no {BUILT_FOR} literal in {bundles}"
    return dest
