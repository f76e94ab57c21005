"""OpenAPI metadata attached to route handlers; the spec is generated from it.

    @bp.post("/register")
    @doc(body=RegisterSchema, responses={201: AuthResponseSchema, 400: None, 409: None},
         auth=None, summary="Register a user")
    def register(): ...

`body` and `query` are marshmallow schema classes (or instances); `responses` maps
status codes to a schema (or None for the standard error shape); `auth` is the
role required ("user", "captain", "any") or None. The handler's docstring is the
description. The generator (`build_spec`) walks the app's url_map.
"""


def doc(*, body=None, query=None, responses=None, auth=None, summary=None, tags=None):
    def decorator(view):
        view._openapi = {
            "body": body,
            "query": query,
            "responses": responses or {},
            "auth": auth,
            "summary": summary,
            "tags": tags,
        }
        return view

    return decorator
