"""A throwaway coturn on loopback with `use-auth-secret`, and TURN allocations made
with given credentials (aioice's TURN client), for the TURN tests."""
import asyncio
import base64
import hashlib
import hmac
import shutil
from pathlib import Path

from aioice import stun
from aioice.turn import create_turn_endpoint

from devserver.processes import Child, port_open
from tests.harness import free_port

REALM = "ridewire.test"


class Coturn(Child):
    """coturn on 127.0.0.1 (TURN over UDP and TCP, no TLS), checking credentials with
    `static-auth-secret`, relaying from 127.0.0.1."""

    def __init__(self, directory, secret, port=None):
        self.port = port or free_port()
        self.url = f"turn:127.0.0.1:{self.port}?transport=udp"
        directory = Path(directory)
        argv = [shutil.which("turnserver") or "/usr/bin/turnserver", "-n",
                "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                f"--listening-port={self.port}", "--min-port=49152", "--max-port=65535",
                "--use-auth-secret", f"--static-auth-secret={secret}", f"--realm={REALM}",
                "--fingerprint", "--no-tls", "--no-dtls", "--no-cli",
                f"--userdb={directory / 'turndb'}", f"--pidfile={directory / 'turn.pid'}",
                f"--log-file={directory / 'turn.log'}", "--simple-log", "--no-stdout-log"]
        super().__init__("coturn", argv, log_path=directory / "coturn.out")

    def ready(self):
        return port_open(self.port)


def credential(secret, username):
    """The TURN REST credential as coturn computes it: base64(HMAC-SHA1)."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def allocate(port, username, password):
    """A TURN allocation on coturn with these credentials: its relayed address, or
    the TURN error code it was refused with."""
    try:
        transport, _ = await create_turn_endpoint(
            asyncio.DatagramProtocol, ("127.0.0.1", port), username, password)
    except stun.TransactionFailed as error:
        return error.response.attributes["ERROR-CODE"][0]
    relayed = transport.get_extra_info("sockname")
    transport.close()
    await asyncio.sleep(0.1)  # let the allocation's deletion go out
    return relayed
