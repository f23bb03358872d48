"""The seams stay where they are: read the package's source with ast and check the rules issue 11 set.

- no import circle among module-level imports (function-level imports are counted on their own: they are
  how a module reaches a heavier one lazily, and none of them may close a circle either);
- the repo format (the catalog ref's name, the Git LFS pointer) is spelled in one module,
  hitrec/store/format.py; docstrings and comments may name it, code may not;
- nothing outside hitrec/store builds a media object path or syncs the store's folder;
- one progress callback type; command modules build no JSON and run no git.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hitrec"
FORMAT_MODULE = "hitrec.store.format"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES: dict[str, ast.Module] = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _known(name: str) -> str | None:
    """The module of the package ``name`` is (or is in): ``hitrec.store.Repo`` -> ``hitrec.store``."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@dataclass
class Imports:
    module_level: dict[str, set[str]] = field(default_factory=dict)
    function_level: dict[str, set[str]] = field(default_factory=dict)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join(parts + ([base] if base else []))
        # `from hitrec.store import repo` imports the submodule; `from hitrec.store import Repo` the package
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    found = {_known(n) for n in names if n == "hitrec" or n.startswith("hitrec.")}
    return {n for n in found if n is not None and n != module}


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def import_graph() -> Imports:
    """Every import of a hitrec module by a hitrec module, module-level and function-level apart
    (``if TYPE_CHECKING:`` imports run only under a type checker: they are left out)."""
    graph = Imports()
    for module, tree in TREES.items():
        top = graph.module_level.setdefault(module, set())
        inner = graph.function_level.setdefault(module, set())

        def visit(node: ast.AST, in_function: bool, top: set[str] = top, inner: set[str] = inner,
                  module: str = module) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child):
                    for other in child.orelse:
                        visit(other, in_function)
                elif isinstance(child, ast.Import | ast.ImportFrom):
                    (inner if in_function else top).update(_targets(module, child))
                else:
                    visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef
                                                            | ast.Lambda))

        visit(tree, False)
    return graph


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_reads_the_package() -> None:
    """The checks below see real imports (a graph that found nothing would pass them all)."""
    graph = import_graph()
    assert "hitrec.store.format" in graph.module_level["hitrec.store.repo"]
    assert "hitrec.store.writer" in graph.function_level["hitrec.store.repo"]
    assert sum(map(len, graph.module_level.values())) > 200
    assert sum(map(len, graph.function_level.values())) > 40
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_among_module_level_imports() -> None:
    assert cycles(import_graph().module_level) == []


def test_no_function_level_import_closes_a_circle() -> None:
    """A function-level import is a lazy one, not a way around a circle (as cli/demo.py <-> demo_hub.py
    was worked around with a mid-file import)."""
    graph = import_graph()
    both = {m: graph.module_level[m] | graph.function_level[m] for m in MODULES}
    assert cycles(both) == []


def test_the_two_circles_named_in_issue_11_are_gone() -> None:
    graph = import_graph()
    for importer, imported in [("hitrec.store.writer", "hitrec.store.repo"),
                               ("hitrec.cli.demo_hub", "hitrec.cli.demo")]:
        assert imported not in graph.module_level[importer] | graph.function_level[importer]


# --- strings code spells (docstrings and comments are documentation: they may name things) --------------
def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def code_strings(module: str) -> list[tuple[int, str]]:
    """Every str and bytes literal of a module's code (f-string parts included), with its line."""
    tree = TREES[module]
    skip = _docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in skip and isinstance(node.value, str | bytes):
            value = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
            out.append((node.lineno, value))
    return out


def spelled_outside(needles: list[str], allowed: set[str]) -> list[str]:
    return [f"{MODULES[m].relative_to(PACKAGE.parent)}:{line}: {text!r}"
            for m in MODULES if m not in allowed
            for line, text in code_strings(m)
            for needle in needles if needle in text.replace("\\", "")]


def test_the_catalog_ref_and_the_pointer_format_are_spelled_in_one_module() -> None:
    needles = ["refs/heads/main", "git-lfs.github.com/spec", "oid sha256:", "spec/v1"]
    assert spelled_outside(needles, {FORMAT_MODULE}) == []
    assert spelled_outside(needles, set()), "the check finds them where they are"


def test_the_fragment_file_names_are_named_in_one_module() -> None:
    """Code names a fragment's files by format.FRAGMENT_YAML, TIMELINE_YAML and GITATTRIBUTES_NAME
    (messages may mention them)."""
    names = {"fragment.yaml", "timeline.yaml", ".gitattributes"}
    own_files = {FORMAT_MODULE, "hitrec.cli.demo", "hitrec.cli.demo_preview"}  # the demo's user timeline.yaml
    found = [f"{MODULES[m].relative_to(PACKAGE.parent)}:{line}: {text!r}" for m in MODULES if m not in own_files
             for line, text in code_strings(m) if text in names]
    assert found == []


# --- media paths ----------------------------------------------------------------------------------------
STORE = "hitrec.store"


def _outside_store() -> list[str]:
    return [m for m in MODULES if m != STORE and not m.startswith(STORE + ".")]


def _slices_an_oid(node: ast.AST) -> bool:
    """``oid[:2]``, ``oid[2:4]`` (any name with "oid" in it): the fan-out of the media layout."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)):
        return False
    bounds = (node.slice.lower, node.slice.upper)
    literal = tuple(b.value if isinstance(b, ast.Constant) else b for b in bounds)
    return "oid" in ast.unparse(node.value).lower() and literal in ((None, 2), (2, 4), (0, 2))


def _asks_a_store_for_its_path(node: ast.AST) -> bool:
    """``repo.media.path(oid)``, ``lfs.media_store(repo).path(oid)``: the local store's own layout."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "path"
            and "media" in ast.unparse(node.func.value).lower())


def media_path_builders(modules: list[str]) -> list[str]:
    store_names = {"media_relpath", "media_path", "sync_filesystem", "LFS_DIR"}
    problems = []
    for module in modules:
        where = MODULES[module].relative_to(PACKAGE.parent)
        for node in ast.walk(TREES[module]):
            name = (node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name)
                    else None)
            if name in store_names:
                problems.append(f"{where}:{node.lineno}: {name}")
            elif isinstance(node, ast.alias) and node.name in store_names:
                problems.append(f"{where}: imports {node.name}")
            elif _slices_an_oid(node) or _asks_a_store_for_its_path(node):
                problems.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
        for line, text in code_strings(module):
            if "lfs/objects" in text.replace("info/lfs/objects", ""):  # info/lfs/objects is the LFS API's URL
                problems.append(f"{where}:{line}: {text!r}")
    return problems


def test_nothing_outside_the_store_builds_a_media_object_path() -> None:
    assert media_path_builders(_outside_store()) == []
    assert media_path_builders([m for m in MODULES if m not in _outside_store()]), "the check finds the store's"


# --- names and command modules --------------------------------------------------------------------------
def test_one_progress_callback_type() -> None:
    """``ProgressFn`` is declared once (hitrec/progress.py); no module declares another
    ``Callable[..., None]`` alias or a ``Progress*`` alias of its own."""
    found = []
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                text = ast.unparse(node.value).replace(" ", "")
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if text.startswith("Callable[...,None]") or any(n.startswith("Progress") for n in names
                                                                 if text.startswith("Callable")):
                    found.append(f"{module}: {', '.join(names)} = {text}")
    assert found == ["hitrec.progress: ProgressFn = Callable[...,None]"]


COMMAND_MODULES = ["hitrec.cli.credits", "hitrec.cli.fragments", "hitrec.cli.hub", "hitrec.cli.render",
                   "hitrec.cli.repo", "hitrec.cli.sync", "hitrec.cli.timeline", "hitrec.cli.preview",
                   "hitrec.cli.cache"]


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_a_command_module_builds_no_json_and_runs_no_git(module: str) -> None:
    """It parses, calls one operation and renders: ``print_json`` gets an operation's ``to_json()``."""
    problems = []
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            problems += [f"imports {n}" for n in names if n.split(".")[0] in ("json", "subprocess", "dulwich")]
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("print_json", "print_json_lines"):
            (arg,) = node.args
            if not (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute)
                    and arg.func.attr in ("to_json", "json_documents")):
                problems.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert problems == []


OPERATIONS = ["add", "show", "log", "lineage", "checkout", "cat", "fsck", "render", "remix", "verify", "credits",
              "push", "pull", "clone", "config", "remote", "init", "login", "preview", "cache"]


@pytest.mark.parametrize("op", OPERATIONS)
def test_each_operation_is_one_module_returning_a_result_with_its_json(op: str) -> None:
    """hitrec/ops/<op>.py defines the operation (``remote``: add, list_, remove) and ``<Op>Result``, a
    dataclass with ``to_json``; nothing else in the package defines that result."""
    import dataclasses
    import importlib

    module = importlib.import_module(f"hitrec.ops.{op}")
    for name in (["add", "list_", "remove"] if op == "remote" else [op]):
        assert callable(getattr(module, name)), f"hitrec.ops.{op}.{name}"
    result = getattr(module, f"{op.capitalize()}Result")
    assert dataclasses.is_dataclass(result) and callable(result.to_json)
    defined = [m for m, tree in TREES.items() for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef) and node.name == result.__name__]
    assert defined == [f"hitrec.ops.{op}"]


def test_only_the_cli_prints() -> None:
    """Outside hitrec/cli nothing writes to the terminal; the two exceptions speak for a process of their
    own: the hub's pre-receive hook (its stderr is git's message to the pusher) and `python -m hitrec`'s
    entry point (a Ctrl-C before hitrec.cli has loaded)."""
    allowed = {"hitrec.hub.hook", "hitrec.__main__"}
    found = []
    for module, tree in TREES.items():
        if module.startswith("hitrec.cli") or module in allowed:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = ast.unparse(node.func)
                if called == "print" or called.startswith(("sys.stdout.", "sys.stderr.")):
                    found.append(f"{module}:{node.lineno}: {called}")
    assert found == []
