"""Hand-made JWTs for the token attacks: any header, any claims, any key, so that a
forged token differs from a genuine one only in the one thing under attack."""
import base64
import hashlib
import hmac
import json
import time
import uuid

from shared.config import TestingConfig

SECRET = TestingConfig.JWT_SECRET_KEY
DROP = object()  # a claim value meaning "leave this claim out"

# Any RSA public key will do: the attack signs HS256 with the public key as the secret.
PUBLIC_KEY_PEM = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo
4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u
+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh
kd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ
0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg
cKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc
mwIDAQAB
-----END PUBLIC KEY-----
"""


def _b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _segment(data):
    return _b64(json.dumps(data, separators=(",", ":")).encode())


def claims(account, role="user", **overrides):
    """The claims of a genuine access token for `account`, with `overrides` applied
    (a value of DROP removes the claim)."""
    now = int(time.time())
    base = {"fresh": False, "iat": now, "jti": uuid.uuid4().hex, "type": "access",
            "sub": str(account["_id"]), "nbf": now, "exp": now + 600, "role": role,
            "ver": account.get("tokenVersion", 0)}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not DROP}


def sign(payload, key=SECRET, alg="HS256", digest=hashlib.sha256, header=None):
    """A JWT with an HMAC signature under `key` (bytes or str), whatever `alg` says."""
    head = {"alg": alg, "typ": "JWT", **(header or {})}
    signing_input = f"{_segment(head)}.{_segment(payload)}"
    key = key.encode() if isinstance(key, str) else key
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def unsigned(payload, alg="none"):
    return f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(payload)}."


def with_signature(payload, alg, signature=b"\x00" * 256):
    return f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(payload)}.{_b64(signature)}"


def swap_payload(token, payload):
    """`token`'s header and signature around another payload (tampering)."""
    head, _, signature = token.split(".")
    return f"{head}.{_segment(payload)}.{signature}"
