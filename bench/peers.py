"""The Node backends Ridewire replaces, run beside it for side-by-side rows (`bench.versus`).

`BENCH_PEER_UBER` names the Uber clone's `Backend/` directory (DhruvArora289/UBER-VIDEO)
and `BENCH_PEER_QUICKCHAT` QuickChat's `server/` directory
(farmanali11/realtime-chat-app-with-socketio): directories the user cloned and ran
`npm install` in. Nothing is downloaded and none of their code is in this repository.
Each peer runs under `node` on a SecantusDB of its own, started with the same flags as
Ridewire's; its accounts are written straight into its database (its own schema, a
bcrypt hash of the same cost) and its tokens signed as its own code signs them.
"""
import json
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import jwt
import requests
from bson import ObjectId
from pymongo import MongoClient

from bench import common
from devserver.processes import Child, EmbeddedMongo, port_open
from tests.harness import free_port

PEER_ROUNDS = 10  # both peers hash with bcrypt cost 10


@dataclass(frozen=True)
class Kind:
    """What differs between the peers: where they are, how they are configured, how
    their accounts and tokens look."""

    name: str
    env_var: str
    ready_path: str

    def env(self, db_server, port):
        base = f"mongodb://127.0.0.1:{db_server.port}"
        if self.name == "uber":
            return {"PORT": str(port), "JWT_SECRET": common.SECRET,
                    "DB_CONNECT": f"{base}/uber?directConnection=true&retryWrites=false"}
        # QuickChat appends "/chat-app" to MONGODB_URI itself.
        return {"PORT": str(port), "JWT_SECRET": common.SECRET, "MONGODB_URI": base}

    def database(self):
        return "uber" if self.name == "uber" else "chat-app"

    def account(self, n, password_hash):
        email = f"peer{n}@example.com"
        if self.name == "uber":
            return {"fullname": {"firstname": f"Peer{n:04d}", "lastname": "Bench"},
                    "email": email, "password": password_hash, "__v": 0}
        return {"fullName": f"Peer {n:04d}", "email": email, "password": password_hash,
                "bio": "bench", "profilePic": "", "__v": 0}

    def token(self, account_id):
        claim = "_id" if self.name == "uber" else "userId"
        issued = int(time.time())
        return jwt.encode({claim: str(account_id), "iat": issued, "exp": issued + 24 * 3600},
                          common.SECRET, algorithm="HS256")


UBER = Kind("uber", "BENCH_PEER_UBER", "/")
QUICKCHAT = Kind("quickchat", "BENCH_PEER_QUICKCHAT", "/api/status")
KINDS = {kind.name: kind for kind in (UBER, QUICKCHAT)}


def directory(kind):
    """The peer's directory from the environment, or None when it is not given."""
    value = os.environ.get(kind.env_var)
    return Path(value).resolve() if value else None


def missing():
    """The environment variables of the peers that are not given (or not usable)."""
    return [kind.env_var for kind in KINDS.values() if problem(kind)]


def problem(kind):
    """Why the peer cannot run (a readable sentence), or None."""
    path = directory(kind)
    if path is None:
        return f"{kind.env_var} is not set"
    if not (path / "server.js").is_file():
        return f"{kind.env_var}={path}: no server.js there"
    if not (path / "node_modules").is_dir():
        return f"{kind.env_var}={path}: run `npm install` there first"
    if shutil.which("node") is None:
        return "node is not installed"
    return None


# One bcrypt check at a cost, timed `samples` times with the peer's own bcrypt module.
NODE_HASH_TIMER = """
const bcrypt = require("bcrypt");
const [rounds, samples] = process.argv.slice(1).map(Number);
const hashed = bcrypt.hashSync("x".repeat(16), rounds);
const times = [];
for (let i = 0; i < samples; i++) {
  const started = process.hrtime.bigint();
  bcrypt.compareSync("x".repeat(16), hashed);
  times.push(Number(process.hrtime.bigint() - started) / 1e9);
}
console.log(JSON.stringify(times));
"""


def node_hash_seconds(kind, rounds, samples=5):
    """Median time of one bcrypt check at `rounds` in Node, with the peer's bcrypt."""
    out = subprocess.run(["node", "-e", NODE_HASH_TIMER, str(rounds), str(samples)],
                         cwd=directory(kind), capture_output=True, text=True, check=True,
                         timeout=120).stdout
    return statistics.median(json.loads(out))


class Peer:
    """One peer backend on its own SecantusDB; a context manager."""

    def __init__(self, kind, tmp):
        self.kind = kind
        self.tmp = Path(tmp)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_server = EmbeddedMongo(free_port(),
                                       log_path=self.tmp / f"{kind.name}-secantusd.log")
        self.node = None

    def __enter__(self):
        self.db_server.start()
        self.client = MongoClient(self.db_server.uri(self.kind.database()), tz_aware=True)
        self.db = self.client.get_default_database()
        env = {**os.environ, **self.kind.env(self.db_server, self.port)}
        script = str(directory(self.kind) / "server.js")
        self.node = Child(f"peer-{self.kind.name}", ["node", script], env,
                          log_path=self.tmp / f"{self.kind.name}.log").start()
        self.node.wait_until(self._answers, 60)
        return self

    def _answers(self):
        if not port_open(self.port):
            return False
        try:
            return requests.get(self.url + self.kind.ready_path, timeout=2).status_code < 500
        except requests.RequestException:
            return False

    @property
    def pid(self):
        return self.node.proc.pid

    def seed(self, count):
        """`count` accounts `[{"id", "token", "email"}]`, password common.PASSWORD."""
        password = bcrypt.hashpw(common.PASSWORD.encode(),
                                 bcrypt.gensalt(PEER_ROUNDS)).decode()
        docs = [{"_id": ObjectId(), **self.kind.account(n, password)} for n in range(count)]
        if docs:
            self.db.users.insert_many(docs)
        return [{"id": str(doc["_id"]), "token": self.kind.token(doc["_id"]),
                 "email": doc["email"]} for doc in docs]

    def __exit__(self, *exc):
        if self.node is not None:
            self.node.stop()
        self.client.close()
        self.db_server.stop()
