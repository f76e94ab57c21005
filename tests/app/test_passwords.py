"""Password hashes: libcrypt's and the bcrypt package's are one and the same, whichever
computed them, and what libcrypt would compute differently stays with the package."""
import random

import bcrypt
import pytest
from flask import Flask

from shared.accounts import libcrypt, passwords


@pytest.fixture
def app_context():
    app = Flask("passwords-test")
    app.config.update(BCRYPT_ROUNDS=4, BCRYPT_MAX_CONCURRENCY=2)
    with app.app_context():
        yield


@pytest.fixture
def crypt():
    function = libcrypt.crypt_function()
    assert function is not None, "this machine's libcrypt (libxcrypt) is expected"
    return function


def random_passwords(count, seed=7):
    rng = random.Random(seed)
    for _ in range(count):
        size = rng.randint(1, passwords.MAX_BYTES)
        yield bytes(rng.randint(1, 255) for _ in range(size))


def test_libcrypt_computes_the_packages_hashes(crypt):
    """Random 1-72 byte passwords (8-bit bytes included), `$2b$` and `$2y$` salts."""
    for n, password in enumerate(random_passwords(60)):
        salt = bcrypt.gensalt(4)
        if n % 3 == 0:
            salt = b"$2y$" + salt[4:]
        assert libcrypt.handles(password, salt)
        assert crypt(password, salt) == bcrypt.hashpw(password, salt)


def test_hashes_verify_across_implementations(app_context, crypt):
    stored = passwords.hash_password("secret123")
    assert stored.startswith("$2b$04$")
    assert bcrypt.checkpw(b"secret123", stored.encode())
    assert passwords.check_password("secret123", stored)
    assert not passwords.check_password("secret124", stored)
    from_package = bcrypt.hashpw("pässwörd!".encode(), bcrypt.gensalt(4)).decode()
    assert passwords.check_password("pässwörd!", from_package)
    assert not passwords.check_password("passwörd!", from_package)


def test_unknown_account_and_too_long_password_are_refused(app_context):
    stored = passwords.hash_password("secret123")
    assert not passwords.check_password("secret123", None)
    assert not passwords.check_password("x" * 73, stored)
    with pytest.raises(ValueError):
        passwords.hash_password("x" * 73)


def test_passwords_with_nul_bytes_stay_with_the_package(app_context):
    """libcrypt's password ends at the first NUL; the package hashes every byte, so
    "ab\\0cd" must not match a hash of "ab"."""
    assert not libcrypt.handles(b"ab\0cd", bcrypt.gensalt(4))
    stored = passwords.hash_password("ab")
    assert not passwords.check_password("ab\0cd", stored)
    with_nul = passwords.hash_password("ab\0cd")
    assert bcrypt.checkpw(b"ab\0cd", with_nul.encode())
    assert passwords.check_password("ab\0cd", with_nul)
    assert not passwords.check_password("ab", with_nul)


@pytest.mark.parametrize("setting", [
    b"$2a$04$CCCCCCCCCCCCCCCCCCCCC.",  # Openwall's $2a$ differs on some 8-bit passwords
    b"$2b$04$CCCCCCCCCCCCCCCCCCCCCC",  # non-canonical salt: the package refuses it
    b"$2b$03$CCCCCCCCCCCCCCCCCCCCC.",  # cost below 4
    b"$2b$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",  # short hash
    b"$2b$04$garbage",
])
def test_other_settings_stay_with_the_package(setting):
    assert not libcrypt.handles(b"password", setting)


def test_a_malformed_stored_hash_raises_as_before(app_context):
    with pytest.raises(ValueError):
        passwords.check_password("secret123", "$2b$04$garbage")


def test_a_libcrypt_that_disagrees_is_not_used(monkeypatch):
    """The self-test compares libcrypt with the package before it is used."""
    libcrypt.crypt_function.cache_clear()
    monkeypatch.setattr(libcrypt, "_caller", lambda function: lambda password, setting: b"*0")
    try:
        assert libcrypt.crypt_function() is None
    finally:
        libcrypt.crypt_function.cache_clear()


def test_without_libcrypt_the_package_hashes(app_context, monkeypatch):
    libcrypt.crypt_function.cache_clear()
    monkeypatch.setattr(libcrypt, "LIBRARY", "libcrypt-that-is-not-there.so.9")
    try:
        assert libcrypt.crypt_function() is None
        stored = passwords.hash_password("secret123")
        assert passwords.check_password("secret123", stored)
        assert not passwords.check_password("secret12", stored)
    finally:
        libcrypt.crypt_function.cache_clear()
