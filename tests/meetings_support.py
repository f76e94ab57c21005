"""The video-meeting frontend's routes, reached the way the frontend reaches them:
for the response-contract scenarios of both services."""

USERS = "/api/v1/users"


def exercise_meeting_accounts(client):
    """Register and log in, with typical failures; the token the frontend keeps."""
    body = {"name": "Mina", "username": "mina", "password": "secret123"}
    assert client.post(f"{USERS}/register", json=body).status_code == 201
    assert client.post(f"{USERS}/register", json=body).status_code == 409
    assert client.post(f"{USERS}/register", json={"name": "Mina"}).status_code == 400
    assert client.post(f"{USERS}/login", json={**body, "password": "wrong!!"}).status_code \
        == 401
    assert client.post(f"{USERS}/login", json={}).status_code == 400
    answer = client.post(f"{USERS}/login", json=body)
    assert answer.status_code == 200
    return answer.get_json()["token"]


def exercise_meeting_history(client, token):
    """The token in the body and in the query, with typical failures."""
    assert client.post(f"{USERS}/add_to_activity",
                       json={"token": token, "meeting_code": "aljk23"}).status_code == 200
    assert client.post(f"{USERS}/add_to_activity",
                       json={"token": token, "meeting_code": "a/b"}).status_code == 400
    assert client.post(f"{USERS}/add_to_activity",
                       json={"meeting_code": "aljk23"}).status_code == 401
    assert client.get(f"{USERS}/get_all_activity?token={token}").status_code == 200
    assert client.get(f"{USERS}/get_all_activity?token=x").status_code == 401
