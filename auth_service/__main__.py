"""`python -m auth_service`: the service under gunicorn with deploy/gunicorn_auth.py
(shared/serve.py), as `make run` and the tests start it. SIGTERM stops it gracefully."""
from shared.serve import serve

if __name__ == "__main__":
    serve("auth")
