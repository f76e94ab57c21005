"""Captain (driver) accounts: /captains/... (the routes every account has, plus status)."""
from auth_service.account_routes import account_blueprint
from auth_service.responses import CaptainAuthResponse, CaptainResponse
from auth_service.schemas import RegisterCaptainSchema, StatusSchema
from shared.models import accounts as account_store
from shared.openapi import doc
from shared.tokens import auth_required, current_account
from shared.validation import json_body, load

ROLE = "captain"
bp = account_blueprint(ROLE, RegisterCaptainSchema, CaptainAuthResponse, CaptainResponse)


@bp.patch("/status")
@auth_required(ROLE)
@doc(body=StatusSchema, responses={200: CaptainResponse, 400: None, 401: None, 403: None},
     auth=ROLE, summary="Go on or off duty", tags=["captains"])
def set_status():
    """Set the captain's `status` to `active` (receives ride requests near its location)
    or `inactive`."""
    data = load(StatusSchema(), json_body())
    captain = account_store.update(ROLE, current_account()["_id"], {"status": data["status"]})
    return {"captain": account_store.public(captain)}
