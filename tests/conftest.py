"""Test fixtures: a throwaway SecantusDB for the session, a clean database per test,
in-process apps (HTTP and Socket.IO) built with any settings, and served processes for
the tests whose subject is a server; markers by kind (the folder) and cost."""
import importlib.util
import os
from importlib import import_module
from pathlib import Path

import pytest
from pymongo import MongoClient

from devserver.processes import EmbeddedMongo, Service, start_together
from shared.config import TestingConfig
from tests.harness import RedisServer, free_port
from tests.inprocess import kill_background_tasks

TEST_DB = "ridewire_test"
# The session's own servers are killed if they take longer than this to stop (their
# graceful stop is not what these fixtures test, and a client left open delays it).
SESSION_STOP_SECONDS = 1.0
HERE = Path(__file__).resolve().parent
# Markers of each folder of tests/ (the kind of test it holds).
KIND_MARKERS = {
    "app": (),  # in-process: app.test_client() and socketio.test_client()
    "system": ("system",),  # served processes, CLI subprocesses, nginx, Redis
    "e2e": ("system", "browser", "slow"),  # headless chromium against served processes
    "hardening": ("hardening", "slow"),  # attacks, faults, shutdown, fuzzing, soak
}
# System tests that start stacks of their own (make run, gunicorn, gateways, several
# processes, benchmarks): seconds to minutes each.
SLOW_SYSTEM = {
    "test_bench_smoke.py", "test_compat_replay.py", "test_dev_server.py",
    "test_devgateway.py", "test_devgateway_services.py", "test_gateway.py",
    "test_gc_tuning.py", "test_production.py", "test_production_runtime.py",
    "test_rides_races.py", "test_rides_scaleout.py", "test_scaleout.py", "test_startup.py",
    "test_calls_scaleout.py", "test_calls_turn.py", "test_recovery.py",
    "test_recovery_presence.py", "test_presence_flush.py", "test_socket_identity.py",
    "test_socket_transport.py",
}
# The longest files, started first so that parallel workers do not end waiting on one.
LONGEST = {"test_bench_smoke.py", "test_soak.py", "test_fuzz_openapi.py", "test_startup.py"}


def kind_of(path):
    """The folder under tests/ that `path` is in ("system" for files still at the top)."""
    parts = Path(path).resolve().relative_to(HERE).parts
    return parts[0] if len(parts) > 1 and parts[0] in KIND_MARKERS else "system"


def markers_of(path):
    names = set(KIND_MARKERS[kind_of(path)])
    if kind_of(path) == "system" and Path(path).name in SLOW_SYSTEM:
        names.add("slow")
    return names


def pytest_collection_modifyitems(config, items):
    """Mark every test by its kind and cost, and run the longest files, then the slow
    ones, first (the order within a file is kept)."""
    for item in items:
        for name in markers_of(item.path):
            item.add_marker(name)

    def rank(item):
        if item.path.name in LONGEST:
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("db") / "secantusd.log"
    server = EmbeddedMongo(free_port(), log_path=log_path).start()
    yield server
    server.stop(timeout=SESSION_STOP_SECONDS)


@pytest.fixture(scope="session")
def mongo_uri(mongo_server):
    return mongo_server.uri(TEST_DB)


@pytest.fixture(scope="session")
def db_client(mongo_uri):
    client = MongoClient(mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    yield client
    client.close()


@pytest.fixture
def db(db_client):
    """The test database, emptied after each test (indexes are kept)."""
    database = db_client.get_default_database()
    yield database
    for name in database.list_collection_names():
        if not name.startswith("system."):
            database[name].delete_many({})


def config_from_env(env):
    """Config as a process started with exactly `env` reads it at import, built in this
    one: shared.config runs again in a module of its own, with `env` as os.environ."""
    spec = importlib.util.find_spec("shared.config")
    module = importlib.util.module_from_spec(spec)
    saved, os.environ = os.environ, dict(env)  # noqa: B003 (a swap, not a clearing)
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ = saved  # noqa: B003
    return module.Config


def make_config(mongo_uri, **overrides):
    """A TestingConfig subclass pointing at the test database."""
    return type("TestConfig", (TestingConfig,), {"MONGO_URI": mongo_uri, **overrides})


@pytest.fixture
def config(mongo_uri):
    return make_config(mongo_uri)


@pytest.fixture
def auth_app(config, db):
    from auth_service.app import create_app

    return create_app(config)


@pytest.fixture
def auth_client(auth_app):
    return auth_app.test_client()


@pytest.fixture
def realtime_app(config, db):
    from realtime_service.app import create_app

    return create_app(config)


@pytest.fixture
def realtime_client(realtime_app):
    return realtime_app.test_client()


@pytest.fixture
def make_auth_app(mongo_uri, db):
    """`make_auth_app(**settings)`: the auth app with these settings, in this process."""
    from auth_service.app import create_app

    return lambda **settings: create_app(make_config(mongo_uri, **settings))


@pytest.fixture
def make_realtime_app(mongo_uri, db):
    """`make_realtime_app(**settings)`: the realtime app with these settings, in this
    process."""
    from realtime_service.app import create_app

    return lambda **settings: create_app(make_config(mongo_uri, **settings))


@pytest.fixture
def app_sockets():
    """`app_sockets(app, token=None, headers=None, query=None)`: in-process Socket.IO
    clients of a realtime app (socketio.test_client), disconnected after the test."""
    from tests.inprocess import InProcessClient

    opened = []

    def connect(app, token=None, **kwargs):
        opened.append(InProcessClient(app, token, **kwargs))
        return opened[-1]

    yield connect
    for client in opened:
        client.disconnect()


@pytest.fixture
def account_sockets(clients):
    """`account_sockets(url, account, role="user")`: a recording client of `account`
    (with a token of its own), disconnected after the test."""
    from tests.factories import token_for

    return lambda url, account, role="user": clients(url, token_for(account, role))


@pytest.fixture(autouse=True)
def _no_greenlet_outlives_its_test():
    """Kill the background greenlets of in-process realtime apps after each test."""
    yield
    kill_background_tasks()


def run_cli(module, *args, uri, **overrides):
    """`flask --app <module> <args>` in this process (Flask's CLI runner), the app built
    with the test settings on `uri` and `overrides`: the click Result."""
    app = import_module(f"{module}.app").create_app(make_config(uri, **overrides))
    return app.test_cli_runner().invoke(args=list(args))


def service_env(mongo_uri, **extra):
    """Environment for a served process in tests."""
    env = {
        "APP_ENV": "testing",
        "MONGO_URI": mongo_uri,
        "BCRYPT_ROUNDS": "4",
        "RATELIMIT_ENABLED": "false",
        "HOST": "127.0.0.1",
        # A stop waits this long for a connection a test left open (20 s by default).
        "GRACEFUL_TIMEOUT": "3",
        # No offer-round sweeper unless a test asks for one: a served process lives on
        # (session or module) beside the in-process tests sharing its database, and its
        # sweeper would move their rounds with a presence that knows none of their
        # captains.
        "DISPATCH_SWEEP_SECONDS": "0",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


def prepare(module, mongo_uri, tmp_path, **extra_env):
    """The Service that `serve` starts, not started yet (for `serve_all`)."""
    port = free_port()
    port_var = "AUTH_PORT" if module == "auth_service" else "REALTIME_PORT"
    env = service_env(mongo_uri, **{port_var: port}, **extra_env)
    return Service(module, port, env, log_path=tmp_path / f"{module}-{port}.log")


def serve(module, mongo_uri, tmp_path, **extra_env):
    """`module` served on a free port, once it answers /healthz."""
    return prepare(module, mongo_uri, tmp_path, **extra_env).start()


def serve_all(services, timeout=30.0):
    """Start prepared services side by side: all spawned, then each waited for (from
    this thread: a child dies with the thread that spawned it)."""
    try:
        start_together(services, timeout)
    except BaseException:
        for service in services:
            service.kill()
        raise
    return services


@pytest.fixture(scope="session")
def served_auth(mongo_uri, tmp_path_factory):
    """The auth service as a real gevent server process for the whole session."""
    service = serve("auth_service", mongo_uri, tmp_path_factory.mktemp("auth"))
    yield service
    service.stop(timeout=SESSION_STOP_SECONDS)


@pytest.fixture(scope="session")
def served_realtime(mongo_uri, tmp_path_factory):
    """The realtime service as a real gevent server process for the whole session."""
    service = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("realtime"))
    yield service
    service.stop(timeout=SESSION_STOP_SECONDS)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free port for the session (scale-out tests)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


@pytest.fixture
def clients():
    """`clients(url, token, **connect_options)`: recording Socket.IO clients, all
    disconnected after the test."""
    from tests.sockets import RecordingClient

    opened = []

    def connect(url, token=None, **kwargs):
        client = RecordingClient().connect(url, token, **kwargs)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.disconnect()
