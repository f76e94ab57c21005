"""Registration of users and captains: validation, storage, duplicates."""
import pytest

from ..auth_api import PASSWORD, captain_body, register, user_body


def errors_of(response):
    assert response.status_code == 400, response.get_json()
    return {(e["param"], e["msg"]) for e in response.get_json()["errors"]}


def test_register_user_returns_account_and_tokens(auth_client, db):
    body = user_body(email="  Alice.Mixed@Example.COM ")
    response = auth_client.post("/users/register", json=body)
    assert response.status_code == 201
    data = response.get_json()
    assert set(data) == {"user", "token", "refreshToken"}
    user = data["user"]
    assert user["email"] == "alice.mixed@example.com"
    assert user["fullname"] == {"firstname": "Alice", "lastname": "Walker"}
    assert user["profilePic"] is None and user["socketId"] is None and user["bio"] == ""
    assert len(user["_id"]) == 24 and user["createdAt"].endswith("Z")
    assert not {"password", "tokenVersion", "tokensRevokedAt"} & set(user)
    stored = db.users.find_one({"email": "alice.mixed@example.com"})
    assert stored["password"].startswith("$2") and stored["password"] != PASSWORD
    assert "token=" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]


def test_register_captain_starts_inactive_without_location(auth_client, db):
    body = captain_body(vehicle={"color": " red ", "plate": "ka 01  ab 1234", "capacity": "3",
                                 "vehicleType": "auto"}, status="active")
    response = auth_client.post("/captains/register", json=body)
    assert response.status_code == 201
    captain = response.get_json()["captain"]
    assert captain["status"] == "inactive" and captain["location"] is None
    assert captain["vehicle"] == {"color": "red", "plate": "KA 01 AB 1234", "capacity": 3,
                                  "vehicleType": "auto"}
    assert "password" not in captain


def test_register_reports_every_failing_field_with_tutorial_messages(auth_client):
    response = auth_client.post("/users/register", json={
        "fullname": {"firstname": "Al", "lastname": "Li"}, "email": "not-an-email",
        "password": "12345"})
    assert errors_of(response) == {
        ("fullname.firstname", "First name must be at least 3 characters long"),
        ("fullname.lastname", "Last name must be at least 3 characters long"),
        ("email", "Invalid Email"),
        ("password", "Password must be at least 6 characters long"),
    }
    assert all(e["location"] == "body" for e in response.get_json()["errors"])


def test_register_missing_fields_are_reported_like_express_validator(auth_client):
    assert errors_of(auth_client.post("/users/register", json={})) == {
        ("fullname.firstname", "First name must be at least 3 characters long"),
        ("email", "Invalid Email"),
        ("password", "Password must be at least 6 characters long"),
    }
    params = {p for p, _ in errors_of(auth_client.post("/captains/register", json={}))}
    assert {"vehicle.color", "vehicle.plate", "vehicle.capacity",
            "vehicle.vehicleType"} <= params


def test_register_upper_limits(auth_client):
    response = auth_client.post("/users/register", json=user_body(
        fullname={"firstname": "x" * 51, "lastname": "y" * 51},
        email="a" * 250 + "@example.com"))
    assert errors_of(response) == {
        ("fullname.firstname", "First name must be at most 50 characters long"),
        ("fullname.lastname", "Last name must be at most 50 characters long"),
        ("email", "Invalid Email"),
    }


@pytest.mark.parametrize("password, ok", [
    ("a" * 72, True),
    ("a" * 73, False),
    ("é" * 36, True),    # 72 bytes
    ("é" * 37, False),   # 74 bytes, only 37 characters
    ("€" * 25, False),   # 75 bytes
])
def test_password_limit_is_72_bytes_not_characters(auth_client, password, ok):
    response = auth_client.post("/users/register", json=user_body(password=password))
    if ok:
        assert response.status_code == 201
        login = auth_client.post("/users/login", json={
            "email": response.get_json()["user"]["email"], "password": password})
        assert login.status_code == 200
    else:
        assert errors_of(response) == {("password", "Password must be at most 72 bytes long")}


def test_wrong_types_are_400_not_500(auth_client):
    response = auth_client.post("/users/register", json={
        "fullname": "Alice", "email": {"$gt": ""}, "password": ["secret123"]})
    params = {p for p, _ in errors_of(response)}
    assert {"fullname", "email", "password"} <= params


@pytest.mark.parametrize("vehicle, expected", [
    ({"color": "re", "plate": "AB", "capacity": 0, "vehicleType": "bus"}, {
        ("vehicle.color", "Color must be at least 3 characters long"),
        ("vehicle.plate", "Plate must be at least 3 characters long"),
        ("vehicle.capacity", "Capacity must be at least 1"),
        ("vehicle.vehicleType", "Invalid vehicle type")}),
    ({"color": "red", "plate": "ABC1", "capacity": 21, "vehicleType": "car"},
     {("vehicle.capacity", "Capacity must be at most 20")}),
    ({"color": "red", "plate": "ABC1", "capacity": 2.5, "vehicleType": "car"},
     {("vehicle.capacity", "Capacity must be an integer")}),
    ({"color": "red", "plate": "ABC1", "capacity": True, "vehicleType": "car"},
     {("vehicle.capacity", "Capacity must be an integer")}),
])
def test_captain_vehicle_validation(auth_client, vehicle, expected):
    response = auth_client.post("/captains/register", json=captain_body(vehicle=vehicle))
    assert errors_of(response) == expected


def test_duplicate_email_is_409_case_insensitively_and_per_role(auth_client):
    first = register(auth_client, email="dup@example.com")
    response = auth_client.post("/users/register", json=user_body(email="DUP@example.com"))
    assert response.status_code == 409
    assert response.get_json() == {"message": "Email already registered"}
    # The same email may be a captain too: uniqueness is within the role.
    captain = auth_client.post("/captains/register", json=captain_body(email=first["email"]))
    assert captain.status_code == 201


def test_duplicate_plate_is_409(auth_client):
    register(auth_client, "captain", vehicle={"color": "red", "plate": "MH12 AB 1",
                                              "capacity": 4, "vehicleType": "car"})
    response = auth_client.post("/captains/register", json=captain_body(
        vehicle={"color": "blue", "plate": "mh12 ab 1", "capacity": 2,
                 "vehicleType": "motorcycle"}))
    assert response.status_code == 409
    assert response.get_json() == {"message": "Vehicle plate already registered"}


def test_indexes_enforce_uniqueness(auth_app, db):
    users = {ix["name"]: ix for ix in db.users.list_indexes()}
    captains = {ix["name"]: ix for ix in db.captains.list_indexes()}
    assert users["email_unique"]["unique"] and captains["email_unique"]["unique"]
    assert captains["plate_unique"]["unique"]


def test_register_and_login_are_json_only(auth_client):
    response = auth_client.post("/users/register", data="email=a@b.c",
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    response = auth_client.post("/users/login", data="{", content_type="application/json")
    assert response.status_code == 400
