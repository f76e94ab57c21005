"""The layering rules of docs/architecture.md, read from the source: no import cycle,
`shared` imports neither service, the services never import each other, nothing but
the entry points imports an app factory module, and models, services and storage never
reach for the request or build responses."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "auth_service", "realtime_service")
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


def test_only_entry_points_import_the_app_factories(graph):
    wrong = [(name, target) for name, targets in graph.items() for target in targets
             if target in ("auth_service.app", "realtime_service.app")
             and name not in ENTRY_POINTS]
    assert wrong == []


@pytest.mark.parametrize("layer", ["shared/models", "shared/services", "realtime_service/services",
                                   "shared/storage.py"])
def test_lower_layers_never_touch_the_request(layer):
    paths = [ROOT / layer] if layer.endswith(".py") else sorted((ROOT / layer).rglob("*.py"))
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
