"""The deployment files, checked with tools that run here (Docker does not): the
compose file against the Compose specification's schema, the gateway config with
`nginx -t`, the Dockerfile's shape, the gunicorn configs, and the built wheel."""
import re
import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.gateway_support import nginx_binary, render_nginx_conf

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def check_jsonschema():
    return shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or \
        shutil.which("check-jsonschema")


def test_compose_file_follows_the_compose_specification(tmp_path):
    command = [check_jsonschema(), "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run([*command, str(COMPOSE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # The check is real: a misspelt top-level key fails it.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("\nservices:", "\nservics:"))
    assert subprocess.run([*command, str(broken)], capture_output=True).returncode == 1


def test_compose_topology():
    services = compose()["services"]
    assert set(services) == {"mongo", "redis", "auth", "realtime", "gateway"}
    assert services["mongo"]["image"] == "mongo:7"
    volume = services["mongo"]["volumes"][0].split(":")
    assert volume[1] == "/data/db" and volume[0] in compose()["volumes"]
    for name in ("auth", "realtime"):
        service = services[name]
        env = service["environment"]
        assert service["build"] == "."
        assert (ROOT / "deploy" / f"gunicorn_{env['SERVICE']}.py").exists()
        assert env["APP_ENV"] == "production"
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert ":?" in env["JWT_SECRET_KEY"]  # compose refuses to start without a secret
        assert env["TRUSTED_PROXY_HOPS"] == "1"
        assert service["depends_on"]["mongo"]["condition"] == "service_healthy"
    # `--scale realtime=N` needs no fixed host port and no fixed container name.
    assert "ports" not in services["realtime"] and "container_name" not in services["realtime"]
    gateway = services["gateway"]
    assert gateway["ports"] == ["${GATEWAY_PORT:-8080}:8080"]
    source, target, _ = gateway["volumes"][0].split(":")
    assert (ROOT / source).resolve() == ROOT / "deploy" / "nginx.conf"
    assert target == "/etc/nginx/nginx.conf"


def test_gateway_upstreams_are_the_compose_services():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    env = {name: compose()["services"][name]["environment"] for name in ("auth", "realtime")}
    assert f"server auth:{env['auth']['AUTH_PORT']};" in conf
    assert f"server realtime:{env['realtime']['REALTIME_PORT']};" in conf
    assert "listen 8080;" in conf
    assert re.search(r"upstream realtime \{\s*hash \$sticky_key consistent;", conf)


def test_nginx_accepts_the_gateway_config(tmp_path):
    conf = render_nginx_conf(tmp_path, 8080, [5001], [5002, 5003])
    result = subprocess.run([nginx_binary(), "-t", "-e", "stderr", "-p", str(tmp_path),
                             "-c", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    conf.write_text(conf.read_text().replace("proxy_pass http://auth;", "proxy_pass http://auth",
                                             1))
    broken = subprocess.run([nginx_binary(), "-t", "-e", "stderr", "-p", str(tmp_path),
                             "-c", str(conf)], capture_output=True, text=True)
    assert broken.returncode != 0


def dockerfile_instructions():
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [line.split(None, 1) for line in lines if line and not line.startswith("#")]


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    instructions = dockerfile_instructions()
    stages = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    assert len(stages) >= 2
    final = instructions[stages[-1]:]
    assert "COPY --from=build /opt/venv /opt/venv" in [" ".join(i) for i in final]
    users = [arg for word, arg in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(word == "HEALTHCHECK" for word, _ in final)
    cmd = [arg for word, arg in final if word == "CMD"][-1]
    assert cmd.startswith("[") and "exec gunicorn" in cmd  # PID 1 gets SIGTERM


def test_dockerfile_copies_only_what_exists_and_is_not_ignored():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for word, arg in dockerfile_instructions():
        if word != "COPY" or arg.startswith("--from"):
            continue
        *sources, _ = arg.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source.split("/")[0] not in ignored, source
    for secret in (".env", ".git", ".venv", ".data"):
        assert secret in ignored


def gunicorn_settings(name, monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(ROOT / "deploy" / f"gunicorn_{name}.py"))


def test_gunicorn_configs(monkeypatch):
    realtime = gunicorn_settings("realtime", monkeypatch, HOST="0.0.0.0", REALTIME_PORT="6002",
                                 GRACEFUL_TIMEOUT="7")
    assert realtime["worker_class"] == "gevent"
    assert realtime["workers"] == 1  # one Socket.IO process per gunicorn
    assert realtime["bind"] == "0.0.0.0:6002"
    assert realtime["graceful_timeout"] == 7
    assert realtime["wsgi_app"] == "realtime_service.wsgi:production_app()"
    auth = gunicorn_settings("auth", monkeypatch, AUTH_PORT="6001", AUTH_WORKERS="3")
    assert auth["worker_class"] == "gevent" and auth["workers"] == 3
    assert auth["bind"].endswith(":6001")
    for settings in (auth, realtime):
        assert callable(settings["post_worker_init"]) and callable(settings["worker_exit"])
        assert settings["accesslog"] is None  # the apps write their own, with request ids


def test_production_dependencies_are_present_and_eventlet_is_not():
    import gunicorn.workers.ggevent  # noqa: F401  (gunicorn[gevent])
    import packaging  # noqa: F401
    import simple_websocket  # noqa: F401

    for absent in ("eventlet", "geventwebsocket"):
        with pytest.raises(ImportError):
            __import__(absent)


def test_the_wheel_ships_the_static_files(tmp_path):
    """What the Dockerfile's `pip install .` installs: code plus the console's files.
    (Built with the venv's setuptools, a dev dependency, so that no download is needed.)"""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("ridewire-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("shared/web.py", "shared/serve.py", "realtime_service/wsgi.py",
                     "auth_service/app.py", "realtime_service/console/static/index.html"):
        assert required in names
    assert not any(name.startswith(("tests/", "devserver/")) for name in names)
