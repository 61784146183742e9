#!/usr/bin/env python3
"""The firmware's import graph: modules, import levels and import cycles.

    python tools/import_graph.py                      # every package under firmware/
    python tools/import_graph.py --package microhttp  # one package, its own imports only
    python tools/import_graph.py --edges              # and who imports whom

Modules are the ``.py`` files a board can import: ``firmware/lib/<package>/...`` and
``firmware/<package>/...`` (a board's sys.path holds ``/`` and ``/lib``), plus ``boot`` and
``main``; build descriptions (the freezing manifest) are left out. Imports are read with
``ast`` from the source, at module level and inside functions alike (a lazy import still makes
one module need another). ``from package import name`` is an edge to ``package.name`` when that
is a module, else to the package; an edge to a submodule does not count the package's
``__init__``, which Python runs first. Names the firmware does not define (``asyncio``,
``machine``) are outside the graph.

A module's level is 1 when it imports nothing in the graph, else one more than the highest
level among what it imports; the depth is the highest level. A cycle is a set of modules that
import each other, directly or through others (a strongly connected component of more than one
module, or a module importing itself).
"""

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_ONLY = {"manifest.py"}  # under firmware/: read by MicroPython's build, never imported


def module_files(firmware):
    """{dotted module name: path} for every importable ``.py`` under ``firmware``."""
    firmware = Path(firmware)
    modules = {}
    for path in sorted(firmware.rglob("*.py")):
        relative = path.relative_to(firmware)
        if "__pycache__" in relative.parts or relative.as_posix() in BUILD_ONLY:
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[0] == "lib":  # /lib is on a board's sys.path, as / is
            parts = parts[1:]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            modules[".".join(parts)] = path
    return modules


def _is_package(modules, name):
    return modules[name].name == "__init__.py"


def _import_nodes(tree, load_time):
    # Every import statement; with ``load_time``, only those that run when the module is
    # imported (not inside a function body).
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not (load_time and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))):
            pending.extend(ast.iter_child_nodes(node))


def imported_modules(modules, tree, name, load_time=False):
    """(module, line) for every import in ``tree`` (the source of module ``name``) that names
    a module of the graph; with ``load_time``, only the imports that run as it is imported."""
    package = name if _is_package(modules, name) else name.rpartition(".")[0]
    for node in _import_nodes(tree, load_time):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = resolve(modules, alias.name)
                if target is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the current package upwards
                anchor = package.split(".") if package else []
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                # "from a import b": the module a.b when there is one, else a name from a.
                full = base + "." + alias.name if base else alias.name
                target = full if full in modules else resolve(modules, base) if base else None
                if target is not None:
                    yield target, node.lineno


def resolve(modules, dotted):
    """The longest prefix of ``dotted`` that is a module of the graph, or None."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def build_graph(firmware, package=None, load_time=False):
    """{module: {imported module: first line}} over the firmware, or only within ``package``;
    with ``load_time``, only the imports that run when a module is imported."""
    modules = module_files(firmware)
    if package is not None:
        modules = {name: path for name, path in modules.items()
                   if name == package or name.startswith(package + ".")}
    graph = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, {})
        for target, line in imported_modules(modules, ast.parse(path.read_text(), str(path)), name, load_time):
            if target != name or not _is_package(modules, name):  # a package names its own parts
                edges.setdefault(target, line)
    return graph


def strongly_connected(graph):
    """The graph's strongly connected components (Tarjan), each a sorted list."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        # Recursion depth is bounded by the module count (a few dozen).
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def cycles(graph):
    """Every import cycle: the components of more than one module, and self-imports."""
    found = [c for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph[c[0]]]
    return sorted(found)


def levels(graph):
    """{module: level}; the modules of one cycle share a level."""
    component_of = {}
    for component in strongly_connected(graph):
        for member in component:
            component_of[member] = tuple(component)
    level = {}

    def level_of(component):
        if component not in level:
            level[component] = 0  # a guard: components form a DAG, so this is never read
            below = [level_of(component_of[target]) for member in component for target in graph[member]
                     if component_of[target] != component]
            level[component] = 1 + max(below, default=0)
        return level[component]

    return {module: level_of(component_of[module]) for module in graph}


def report(graph):
    module_levels = levels(graph)
    return {
        "modules": len(graph),
        "depth": max(module_levels.values(), default=0),
        "cycles": cycles(graph),
        "levels": {name: module_levels[name] for name in sorted(graph)},
        "edges": {name: sorted(graph[name]) for name in sorted(graph)},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--firmware", default=str(ROOT / "firmware"), help="the firmware tree (default: firmware/)")
    parser.add_argument("--package", help="only this package's modules and the imports between them")
    parser.add_argument("--load-time", action="store_true",
                        help="only the imports that run when a module is imported (not the lazy ones in functions)")
    parser.add_argument("--edges", action="store_true", help="also list each module's imports")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    result = report(build_graph(args.firmware, args.package, args.load_time))
    if args.json:
        print(json.dumps(result, indent=1))
        return 1 if result["cycles"] else 0
    print("%d modules, %d import levels, %d import cycles" % (result["modules"], result["depth"],
                                                               len(result["cycles"])))
    for cycle in result["cycles"]:
        print("cycle: " + " <-> ".join(cycle))
    by_level = {}
    for name, level in result["levels"].items():
        by_level.setdefault(level, []).append(name)
    for level in sorted(by_level):
        print("level %d: %s" % (level, " ".join(by_level[level])))
    if args.edges:
        for name, targets in result["edges"].items():
            print("%s -> %s" % (name, " ".join(targets) or "-"))
    return 1 if result["cycles"] else 0


if __name__ == "__main__":
    sys.exit(main())
