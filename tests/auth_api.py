"""Helpers for the auth tests: accounts made through the HTTP API."""
import base64
import itertools

PASSWORD = "secret123"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
_counter = itertools.count(1)


def data_url(data, declared="image/png"):
    return f"data:{declared};base64,{base64.b64encode(data).decode()}"


def user_body(**overrides):
    n = next(_counter)
    body = {"fullname": {"firstname": "Alice", "lastname": "Walker"},
            "email": f"alice{n}@example.com", "password": PASSWORD}
    body.update(overrides)
    return body


def captain_body(**overrides):
    n = next(_counter)
    body = {"fullname": {"firstname": "Bruno", "lastname": "Driver"},
            "email": f"bruno{n}@example.com", "password": PASSWORD,
            "vehicle": {"color": "black", "plate": f"KA01 {n:04d}", "capacity": 4,
                        "vehicleType": "car"}}
    body.update(overrides)
    return body


def register(client, role="user", **overrides):
    """Register through the API; returns the 201 JSON (account, token, refreshToken)."""
    body = user_body(**overrides) if role == "user" else captain_body(**overrides)
    response = client.post(f"/{role}s/register", json=body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    data["email"], data["password"] = body["email"], body["password"]
    return data


def bearer(token):
    return {"Authorization": f"Bearer {token}"}
