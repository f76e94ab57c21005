"""The JWT secret of a development run without JWT_SECRET_KEY (`make run`): random,
made once per data directory and kept next to it (`<DATA_DIR>/../jwt-secret`, mode
0600), so that a restart keeps the tokens valid, both services share it, and nobody
else knows it (the public DEFAULT_JWT_SECRET stays for the tests and is refused in
production). It is never logged.

Standard library only: shared.config reads it.
"""
import functools
import os
import secrets
import stat
from pathlib import Path

FILE_NAME = "jwt-secret"
SECRET_BYTES = 48


def secret_path(data_dir):
    """Where the secret of the data directory `data_dir` is kept."""
    return Path(data_dir).parent / FILE_NAME


@functools.cache
def dev_secret(data_dir):
    """The secret kept for `data_dir`, made (atomically: two services may start at once)
    when there is none yet."""
    path = secret_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path):
    """Write a new secret to a private temporary file, then link it into place: whoever
    links first wins, and nobody ever reads a half-written secret."""
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(SECRET_BYTES) + "\n")
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def _read(path):
    """The secret in `path`, refused unless only this user can read it: a file someone
    else planted or could read is no secret."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() \
            or stat.S_IMODE(info.st_mode) & 0o077:
        raise RuntimeError(f"{path} must be a file of this user with mode 0600 "
                           "(or set JWT_SECRET_KEY)")
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds no usable secret: delete it (or set JWT_SECRET_KEY)")
    return secret
