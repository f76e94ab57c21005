"""User (rider) accounts: /users/... (the routes every account has)."""
from auth_service.account_routes import account_blueprint
from auth_service.responses import UserAuthResponse, UserResponse
from auth_service.schemas import RegisterUserSchema

bp = account_blueprint("user", RegisterUserSchema, UserAuthResponse, UserResponse)
