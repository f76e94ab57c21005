"""Every extension object of the two services, created unbound and bound to an app in
its factory (`init_app`). The realtime service adds its `SocketIO` in
realtime_service/extensions.py; each app's flask-smorest `Api` is made in
shared.web.init_api (its spec is per app)."""
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from shared.db import Mongo

mongo = Mongo()
jwt = JWTManager()
# The limiter's key prefix; a limit counted outside flask-limiter's decorators (a socket
# event spending a route's budget) names its keys with it too.
LIMITER_PREFIX = "ridewire"
limiter = Limiter(key_func=get_remote_address, headers_enabled=True, key_prefix=LIMITER_PREFIX)
cors = CORS()
