"""Profile read and update, captain status."""
import io

from PIL import Image

from ..auth_api import PNG_1PX, bearer, data_url, register


def test_get_profile(auth_client):
    captain = register(auth_client, "captain")
    response = auth_client.get("/captains/profile", headers=bearer(captain["token"]))
    assert response.status_code == 200
    assert response.get_json() == {"captain": captain["captain"]}


def test_update_fullname_and_bio(auth_client, db):
    user = register(auth_client)
    response = auth_client.patch("/users/profile", headers=bearer(user["token"]), json={
        "fullname": {"firstname": "Alicia"}, "bio": "Rides to work daily", "email": "x@y.zz"})
    assert response.status_code == 200
    updated = response.get_json()["user"]
    assert updated["fullname"] == {"firstname": "Alicia", "lastname": "Walker"}
    assert updated["bio"] == "Rides to work daily"
    assert updated["email"] == user["user"]["email"]  # not changeable here
    assert updated["updatedAt"] >= user["user"]["updatedAt"]
    response = auth_client.patch("/users/profile", headers=bearer(user["token"]), json={
        "fullname": {"lastname": None}, "bio": None})
    assert response.get_json()["user"]["fullname"] == {"firstname": "Alicia"}
    assert response.get_json()["user"]["bio"] == ""
    # What the update answered is what is stored (the bookkeeping `_rev` hidden).
    profile = auth_client.get("/users/profile", headers=bearer(user["token"])).get_json()
    assert response.get_json() == profile and "_rev" not in profile["user"]


def test_update_validation(auth_client):
    user = register(auth_client)
    headers = bearer(user["token"])
    response = auth_client.patch("/users/profile", headers=headers, json={
        "fullname": {"firstname": "Al"}, "bio": "b" * 501})
    assert response.status_code == 400
    assert {(e["param"], e["msg"]) for e in response.get_json()["errors"]} == {
        ("fullname.firstname", "First name must be at least 3 characters long"),
        ("bio", "Bio must be at most 500 characters long")}
    for empty in ({}, {"fullname": {}}, {"unknown": 1}):
        response = auth_client.patch("/users/profile", headers=headers, json=empty)
        assert response.status_code == 400, empty
    response = auth_client.patch("/users/profile", headers=headers, json={"profilePic": 5})
    assert response.get_json()["errors"][0]["param"] == "profilePic"


def test_profile_picture_upload_replace_and_remove(auth_client, db):
    user = register(auth_client)
    headers = bearer(user["token"])
    response = auth_client.patch("/users/profile", headers=headers,
                                 json={"profilePic": data_url(PNG_1PX, "image/jpeg")})
    assert response.status_code == 200
    url = response.get_json()["user"]["profilePic"]
    assert url.startswith("/media/") and len(url) == len("/media/") + 24
    image = auth_client.get(url)
    assert image.status_code == 200 and image.data[:8] == PNG_1PX[:8]  # re-encoded PNG
    assert image.headers["Content-Type"] == "image/png"  # from the bytes, not the data URL
    # Sending the current URL back changes nothing.
    again = auth_client.patch("/users/profile", headers=headers, json={"profilePic": url})
    assert again.get_json()["user"]["profilePic"] == url
    # A new picture replaces the old one, whose file is deleted.
    jpeg = io.BytesIO()
    Image.new("RGB", (2, 2)).save(jpeg, "JPEG")
    jpeg = jpeg.getvalue()
    newer = auth_client.patch("/users/profile", headers=headers,
                              json={"profilePic": data_url(jpeg, "image/png")})
    new_url = newer.get_json()["user"]["profilePic"]
    assert new_url != url and auth_client.get(url).status_code == 404
    assert auth_client.get(new_url).headers["Content-Type"] == "image/jpeg"
    removed = auth_client.patch("/users/profile", headers=headers, json={"profilePic": None})
    assert removed.get_json()["user"]["profilePic"] is None
    assert auth_client.get(new_url).status_code == 404
    assert db["media.files"].count_documents({}) == 0


def test_profile_picture_rejections(auth_client, db):
    user = register(auth_client)
    headers = bearer(user["token"])
    bad = [
        data_url(b"GIF89a" + b"\0" * 20, "image/gif"),
        data_url(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        data_url(b"%PDF-1.7 not an image", "image/png"),
        "data:image/png;base64,@@@not-base64@@@",
        "https://example.com/me.png",
        "data:image/png," + "x" * 10,
    ]
    for value in bad:
        response = auth_client.patch("/users/profile", headers=headers, json={"profilePic": value})
        assert response.status_code == 400, value
        assert response.get_json()["errors"] == [{
            "msg": "Image must be a PNG, JPEG or WebP data URL", "param": "profilePic",
            "location": "body"}]
    assert db["media.files"].count_documents({}) == 0
    assert db.users.find_one({"email": user["email"]})["profilePic"] is None


def test_profile_route_takes_image_sized_bodies_but_not_more(auth_client):
    user = register(auth_client)
    headers = bearer(user["token"])
    two_mib = PNG_1PX + b"\0" * (2 * 1024 * 1024)
    response = auth_client.patch("/users/profile", headers=headers,
                                 json={"profilePic": data_url(two_mib)})
    assert response.status_code == 200
    six_mib = PNG_1PX + b"\0" * (6 * 1024 * 1024)
    response = auth_client.patch("/users/profile", headers=headers,
                                 json={"profilePic": data_url(six_mib)})
    assert response.status_code == 413
    assert auth_client.post("/users/activity", headers=headers,
                            json={"action": "x", "meta": {"a": "b" * (2 * 1024 * 1024)}}
                            ).status_code == 413


def test_captain_status(auth_client, db):
    captain = register(auth_client, "captain")
    headers = bearer(captain["token"])
    response = auth_client.patch("/captains/status", headers=headers, json={"status": "active"})
    assert response.status_code == 200
    assert response.get_json()["captain"]["status"] == "active"
    assert db.captains.find_one({"email": captain["email"]})["status"] == "active"
    response = auth_client.patch("/captains/status", headers=headers, json={"status": "busy"})
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"msg": "Status must be active or inactive",
                                              "param": "status", "location": "body"}]
    assert auth_client.patch("/captains/status", headers=headers, json={}).status_code == 400
    response = auth_client.patch("/captains/status", headers=headers, json={"status": "inactive"})
    assert response.get_json()["captain"]["status"] == "inactive"
    auth_client.delete_cookie("token")
    assert auth_client.patch("/captains/status", json={"status": "active"}).status_code == 401
