"""The realtime service's own extension: the one `SocketIO`, bound in the factory.
(The shared ones, Mongo, JWT, CORS and the limiter, are in shared.extensions.)"""
from flask_socketio import SocketIO

socketio = SocketIO()
