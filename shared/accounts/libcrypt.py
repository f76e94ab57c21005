"""bcrypt through the system's libcrypt (libxcrypt: Openwall's crypt_blowfish), when it
is there and computes what the `bcrypt` package computes.

The same `$2b$` and `$2y$` hashes as the package for about 15 % less CPU per check
(BENCHMARKS.md), and ctypes releases the GIL during the call, so checks in threads use
every core. `shared.accounts.passwords` hands it only what it computes exactly as the
package does (`handles`) and gives the package the rest.

    crypt = libcrypt.crypt_function()       # None without a libcrypt that agrees
    if crypt and libcrypt.handles(password, hashed):
        crypt(password, hashed)             # the hash of `password` in `hashed`'s setting
"""
import ctypes
import functools
import re

LIBRARY = "libcrypt.so.1"
DATA_SIZE = 32768  # sizeof(struct crypt_data) in libxcrypt 4
# A `$2b$`/`$2y$` setting, with its hash or not, whose salt is canonical (its last
# character carries 2 bits: the package refuses other ones, libcrypt re-encodes them).
# `$2a$` stays with the package: Openwall's `$2a$` differs on some 8-bit passwords.
SETTING = re.compile(
    rb"\$2[by]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{21}[.Oeu]([./A-Za-z0-9]{31})?\Z")
SELF_TEST_SETTINGS = (b"$2b$04$CCCCCCCCCCCCCCCCCCCCC.", b"$2y$05$abcdefghijklmnopqrstuu")
SELF_TEST_PASSWORDS = (b"U*U", b"\xff\xa3" * 36, b"correct horse battery staple")


def handles(password, setting):
    """Whether libcrypt computes this hash exactly as the package does: a `$2b$`/`$2y$`
    setting with a canonical salt, and a password without NUL bytes (libcrypt's ends
    at the first one; the package hashes them)."""
    return b"\0" not in password and SETTING.match(setting) is not None


def _bind():
    """libcrypt's `crypt_rn`, or None where there is no libxcrypt."""
    try:
        function = ctypes.CDLL(LIBRARY).crypt_rn
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_char_p
    function.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    return function


def _caller(function):
    def crypt(password, setting):
        """The hash (bytes) of `password` in `setting`, or None when libcrypt refuses."""
        data = ctypes.create_string_buffer(DATA_SIZE)
        try:
            return function(password, setting, data, DATA_SIZE)
        finally:
            ctypes.memset(data, 0, DATA_SIZE)  # its scratch space held the key schedule

    return crypt


@functools.cache
def crypt_function():
    """`crypt(password, setting)` through libcrypt, or None when it is missing or gives
    another answer than the package on the self-test (a few hashes at cost 4-5)."""
    import bcrypt

    function = _bind()
    if function is None:
        return None
    crypt = _caller(function)
    for setting in SELF_TEST_SETTINGS:
        for password in SELF_TEST_PASSWORDS:
            if crypt(password, setting) != bcrypt.hashpw(password, setting):
                return None
    return crypt
