"""Socket.IO handshakes refused for a reason of the app's settings or backends, the
realtime app in this process (Flask-SocketIO's test client)."""
from tests.harness import free_port

from ..factories import make_user, token_for


def test_database_down_refuses_cleanly(make_realtime_app, app_sockets, db):
    user = make_user(db)
    dead_mongo = (f"mongodb://127.0.0.1:{free_port()}/x"
                  "?directConnection=true&retryWrites=false")
    app = make_realtime_app(MONGO_URI=dead_mongo, MONGO_TIMEOUT_MS=300)
    socket = app_sockets(app, token_for(user))
    assert not socket.connected
    assert socket.connect_error == {"message": "Service unavailable, try again later"}


def gateway_page(app):
    """The headers of a handshake from a page of the app's own origin, as proxied."""
    return {"Origin": f"http://127.0.0.1:{app.config['REALTIME_PORT']}",
            "X-Forwarded-For": "127.0.0.1"}


def test_a_same_origin_page_connects_anonymously_with_the_compatibility_layer(
        make_realtime_app, app_sockets, db):
    app = make_realtime_app(COMPAT_ROUTES=True)
    assert app_sockets(app, headers=gateway_page(app)).connected


def test_anonymous_connections_need_the_compatibility_layer(make_realtime_app, app_sockets,
                                                            db):
    app = make_realtime_app(COMPAT_ROUTES=False)
    socket = app_sockets(app, headers=gateway_page(app))
    assert not socket.connected
    assert socket.connect_error == {"message": "Authentication required"}
