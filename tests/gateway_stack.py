"""Both services and `make run`'s gateway as real processes, on free ports: what a
frontend served from the gateway's origin talks to."""
from types import SimpleNamespace

from devserver.processes import Gateway, Service, start_together
from tests.conftest import service_env
from tests.harness import free_port


def start_stack(mongo_uri, logs, frontend_dir=None, gateway_port=None, **extra_env):
    """`(stack, processes)`: stack.url is the gateway's origin (on `gateway_port`, by
    default a free one)."""
    auth_port, realtime_port = free_port(), free_port()
    gateway_port = gateway_port or free_port()
    origin = f"http://127.0.0.1:{gateway_port}"
    env = service_env(mongo_uri, AUTH_PORT=auth_port, REALTIME_PORT=realtime_port,
                      GATEWAY_PORT=gateway_port, CORS_ORIGINS=origin, **extra_env)
    if frontend_dir is not None:
        env["FRONTEND_DIR"] = str(frontend_dir)
    processes = [Service("auth_service", auth_port, env, log_path=logs / "auth.log"),
                 Service("realtime_service", realtime_port, env, log_path=logs / "rt.log"),
                 Gateway(gateway_port, env, log_path=logs / "gateway.log")]
    return SimpleNamespace(url=origin), start_together(processes)


def stop_stack(processes):
    for process in processes:
        process.stop()
