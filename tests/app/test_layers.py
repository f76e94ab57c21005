"""The layering rules of docs/architecture.md, read from the source: no import cycle,
`shared` imports neither service, the services never import each other, the core never
imports the compat package, nothing but the entry points imports an app factory module,
only models talk to the database, models and services never reach for the request or
build responses, and no library internal is used."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "auth_service", "realtime_service", "compat")
CORE = ("shared", "auth_service", "realtime_service")
ENTRY_POINTS = {"auth_service.__main__", "auth_service.__init__", "realtime_service.__main__",
                "realtime_service.__init__", "realtime_service.wsgi"}


def module_name(path):
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def project_modules():
    return {module_name(path): path for package in PACKAGES
            for path in (ROOT / package).rglob("*.py")}


def imports_of(path, modules):
    """The project modules `path` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
        found |= {f"{name}.__init__" for name in names if f"{name}.__init__" in modules}
    return found


@pytest.fixture(scope="module")
def graph():
    modules = project_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def cycles(graph):
    """Every import cycle (as a list of modules), by depth-first search."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle(graph):
    # A package's __init__ importing its own modules is not a cycle of layers.
    without_inits = {name: {t for t in targets if not t.endswith(".__init__")}
                     for name, targets in graph.items()}
    assert cycles(without_inits) == []


def test_shared_imports_neither_service_and_services_not_each_other(graph):
    wrong = [(name, target) for name, targets in graph.items() for target in targets
             if (name.startswith("shared") and not target.startswith("shared"))
             or (name.startswith("auth_service") and target.startswith("realtime_service"))
             or (name.startswith("realtime_service") and target.startswith("auth_service"))]
    assert wrong == []


def test_the_core_never_imports_the_compat_package(graph):
    wrong = [(name, target) for name, targets in graph.items() for target in targets
             if name.startswith(CORE) and target.startswith("compat")]
    assert wrong == []


def test_only_entry_points_import_the_app_factories(graph):
    wrong = [(name, target) for name, targets in graph.items() for target in targets
             if target in ("auth_service.app", "realtime_service.app")
             and name not in ENTRY_POINTS]
    assert wrong == []


def model_modules():
    """The modules that own a collection: they declare its name or its indexes."""
    return [path for path in project_modules().values()
            if re.search(r"^(COLLECTIONS?|INDEXES) = ", path.read_text(encoding="utf-8"),
                         re.MULTILINE)]


def service_modules():
    return [path for path in project_modules().values() if path.name == "service.py"]


# The platform modules that hold the client itself, and the media store (GridFS).
DATABASE_MODULES = {"shared/db.py", "shared/extensions.py", "shared/cli.py", "shared/http.py",
                    "shared/storage.py", "shared/media/service.py"}


def test_only_models_talk_to_the_database():
    models = {str(path.relative_to(ROOT)) for path in model_modules()}
    offenders = []
    for path in project_modules().values():
        relative = str(path.relative_to(ROOT))
        if relative in models or relative in DATABASE_MODULES:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\bmongo\.db\b", r"\.collection\(", r"\bcursor_page\(",
                        r"\.aggregate\(", r"from shared\.extensions import .*\bmongo\b"):
            if re.search(pattern, text):
                offenders.append(f"{relative}: {pattern}")
    assert offenders == []


def test_models_and_services_never_touch_the_request():
    paths = model_modules() + service_modules() + [ROOT / "shared" / "storage.py"]
    assert len(paths) > 10
    offenders = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "flask":
                used = {alias.name for alias in node.names}
                if used & {"request", "jsonify", "make_response", "Response", "g", "session"}:
                    offenders.append(f"{path.relative_to(ROOT)}: {sorted(used)}")
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module.endswith(".web") or node.module.startswith("flask_smorest")):
                offenders.append(f"{path.relative_to(ROOT)}: imports {node.module}")
    assert offenders == []


def test_no_private_library_internals():
    """None of the flask-smorest and python-socketio internals that decided security or
    docs before (a library release may change them without notice). The one private
    override left, shared.web.Api's default error responses, has no public
    replacement; test_openapi checks what it documents."""
    private = re.compile(r"\b(_apidoc|_prepare_doc_cbks|_handle_eio_connect|_docs)\b")
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in project_modules().values()
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if private.search(line)]
    assert offenders == []


def test_the_core_never_names_the_tutorial_frontends():
    """What the tutorial frontends need lives in compat/, which plugs into hooks: the
    core's code, comments included, never names them."""
    names = re.compile(r"uber|quick ?chat|tutorial|apna|video-meeting", re.IGNORECASE)
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for name, path in project_modules().items() if name.startswith(CORE)
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if names.search(line)]
    assert offenders == []
