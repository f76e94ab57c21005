"""Each socket's rooms, kept as they are entered and left. python-socketio's manager
finds one socket's rooms by scanning every room of the namespace (in `get_rooms`, and
in `basic_disconnect` on every disconnect): with thousands of sockets held, every
dropped socket cost the worker milliseconds (BENCHMARKS.md, "Churn at scale")."""


class RoomIndex:
    """A mixin for a python-socketio manager: `joined[(namespace, sid)]` holds the
    socket's rooms (the `None` room of connected sockets included), in the order entered."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.joined = {}

    def basic_enter_room(self, sid, namespace, room, eio_sid=None):
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self.joined.setdefault((namespace, sid), {})[room] = None

    def basic_leave_room(self, sid, namespace, room):
        super().basic_leave_room(sid, namespace, room)
        rooms = self.joined.get((namespace, sid))
        if rooms is not None:
            rooms.pop(room, None)
            if not rooms:
                del self.joined[namespace, sid]

    def get_rooms(self, sid, namespace):
        return [room for room in self.joined.get((namespace, sid), ()) if room is not None]

    def basic_disconnect(self, sid, namespace, **kwargs):
        """python-socketio's, with the socket's rooms read from the index."""
        for room in list(self.joined.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            if sid in pending.get(namespace, ()):
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]
