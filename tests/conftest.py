"""Test fixtures: a throwaway SecantusDB for the session, a clean database per test,
in-process apps for HTTP tests, and served processes for socket tests."""
import pytest
from pymongo import MongoClient

from devserver.processes import EmbeddedMongo, RedisServer, Service, free_port
from shared.config import TestingConfig

TEST_DB = "ridewire_test"


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    server = EmbeddedMongo(log_path=tmp_path_factory.mktemp("db") / "secantusd.log").start()
    yield server
    server.stop()


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


def service_env(mongo_uri, **extra):
    """Environment for a served process in tests."""
    env = {
        "APP_ENV": "testing",
        "MONGO_URI": mongo_uri,
        "BCRYPT_ROUNDS": "4",
        "RATELIMIT_ENABLED": "false",
        "HOST": "127.0.0.1",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


def serve(module, mongo_uri, tmp_path, **extra_env):
    port = free_port()
    port_var = "AUTH_PORT" if module == "auth_service" else "REALTIME_PORT"
    env = service_env(mongo_uri, **{port_var: port}, **extra_env)
    return Service(module, port, env, log_path=tmp_path / f"{module}-{port}.log").start()


@pytest.fixture(scope="session")
def served_auth(mongo_uri, tmp_path_factory):
    """The auth service as a real gevent server process for the whole session."""
    service = serve("auth_service", mongo_uri, tmp_path_factory.mktemp("auth"))
    yield service
    service.stop()


@pytest.fixture(scope="session")
def served_realtime(mongo_uri, tmp_path_factory):
    """The realtime service as a real gevent server process for the whole session."""
    service = serve("realtime_service", mongo_uri, tmp_path_factory.mktemp("realtime"))
    yield service
    service.stop()




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
