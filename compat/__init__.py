"""The tutorial frontends' contracts: the Uber clone (`compat.uber`), QuickChat
(`compat.quickchat`) and the video-meeting app (`compat.meetings`). The only code that
knows them; the app factories load it when COMPAT_ROUTES is on, and it plugs into the
core through the hooks named here."""
from compat.credentials import compatible_credentials
from shared.accounts.roles import Role
from shared.accounts.vehicles import add_alias


def init_core(app):
    """What both services take from the tutorials: their token headers, `moto`."""
    app.before_request(compatible_credentials)
    add_alias("moto", "motorcycle")  # the Uber clone's name for a motorcycle


def flat_rider_profile(role, account):
    """A rider's profile with its fields at the top level too: the Uber clone reads
    `response.data._id`."""
    return {**account, role.value: account} if role == Role.USER else {role.value: account}


def init_auth(app):
    """The auth service's compatible routes."""
    from compat.meetings.account_routes import meeting_accounts
    from compat.quickchat.auth_routes import quickchat_auth

    init_core(app)
    app.extensions["profile_view"] = flat_rider_profile
    for blueprint in (quickchat_auth, meeting_accounts):
        app.extensions["api"].register_blueprint(blueprint)


def init_realtime(app):
    """The realtime service's compatible routes."""
    from compat.meetings.history_routes import meeting_history
    from compat.meetings.sockets import init_meeting_sockets
    from compat.quickchat.chat_routes import quickchat_chat
    from compat.sockets import init_sockets
    from compat.uber.map_routes import uber_maps
    from compat.uber.ride_routes import uber_routes
    from compat.uber.schemas import UBER, UberRide
    from realtime_service.rides.schemas import add_ride_view

    init_core(app)
    add_ride_view(UBER, UberRide)
    init_sockets(app)
    init_meeting_sockets(app)
    for blueprint in (quickchat_chat, uber_routes, uber_maps, meeting_history):
        app.extensions["api"].register_blueprint(blueprint)
