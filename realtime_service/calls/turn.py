"""ICE servers for RTCPeerConnection, with time-limited TURN credentials.

The credentials are those of the TURN REST scheme that coturn checks with
`use-auth-secret` and `static-auth-secret`: the username is `<expiry unix time>:<account
id>`, the credential base64(HMAC-SHA1(secret, username)). coturn recomputes the HMAC
with the secret it shares with us and refuses a username whose time has passed, so no
credential is stored anywhere and none outlives its TTL.
"""
import base64
import hashlib
import hmac


def turn_credential(secret, username):
    """base64(HMAC-SHA1(secret, username)), as coturn computes it."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def turn_username(account_id, expires_at):
    """`<expiry unix time>:<account id>`: coturn reads the expiry before the colon."""
    return f"{int(expires_at)}:{account_id}"


def ice_servers(stun_urls, turn_urls, secret, ttl, account_id, now):
    """The `iceServers` of an RTCConfiguration: the STUN URLs, and the TURN URLs with
    credentials for `account_id` valid `ttl` seconds from `now` (a unix time)."""
    servers = [{"urls": list(stun_urls)}] if stun_urls else []
    if turn_urls and secret:
        username = turn_username(account_id, now + ttl)
        servers.append({"urls": list(turn_urls), "username": username,
                        "credential": turn_credential(secret, username)})
    return servers
