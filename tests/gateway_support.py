"""The production topology without Docker: redis-server, gunicorn processes with the
deploy/ configs, and Debian's nginx running deploy/nginx.conf with its upstreams
pointed at local ports."""
import os
import re
import shutil
from pathlib import Path

from devserver.processes import Child, port_open
from tests.conftest import service_env
from tests.harness import GunicornService, free_port

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def nginx_binary():
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.path.exists(binary), "nginx is required (apt-get install nginx; .ci/run does it)"
    return binary


def render_nginx_conf(directory, port, auth_ports, realtime_ports):
    """deploy/nginx.conf for this machine: the same routing, with the compose host names
    replaced by local ports, in the foreground, with its files under `directory`."""
    text = NGINX_CONF.read_text()

    def servers(ports):
        return "\n        ".join(f"server 127.0.0.1:{p};" for p in ports)

    text, n_auth = re.subn(r"server auth:5001;", servers(auth_ports), text)
    text, n_realtime = re.subn(r"server realtime:5002;", servers(realtime_ports), text)
    text, n_listen = re.subn(r"listen 8080;", f"listen 127.0.0.1:{port};", text)
    assert (n_auth, n_realtime, n_listen) == (1, 1, 1), "deploy/nginx.conf changed shape"
    temp = "\n".join(f"    {kind}_temp_path {directory}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = text.replace("http {\n", f"http {{\n{temp}\n", 1)
    user = "user root;\n" if os.geteuid() == 0 else ""
    head = f"daemon off;\n{user}pid {directory}/nginx.pid;\n"
    path = Path(directory) / "nginx.conf"
    path.write_text(head + text)
    return path


class Nginx(Child):
    def __init__(self, directory, auth_ports, realtime_ports, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = render_nginx_conf(directory, self.port, auth_ports, realtime_ports)
        argv = [nginx_binary(), "-e", "stderr", "-p", str(directory), "-c", str(conf)]
        super().__init__("nginx", argv, log_path=Path(directory) / "nginx.log")

    def ready(self):
        return port_open(self.port)


def gunicorn(module, mongo_uri, directory, **env):
    """One service under gunicorn with its deploy/ config (not started)."""
    port = free_port()
    port_var = "AUTH_PORT" if module == "auth_service" else "REALTIME_PORT"
    full_env = service_env(mongo_uri, **{port_var: port}, **env)
    log = Path(directory) / f"{module}-{port}.log"
    return GunicornService(module, port, full_env, log_path=log)


def log_text(service):
    return Path(service.log_path).read_text(errors="replace")
