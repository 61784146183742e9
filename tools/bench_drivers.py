#!/usr/bin/env python3
"""Driver cost on the MicroPython unix port, and the .mpy size of the driver package.

Measures, on the real MicroPython 1.25 interpreter (the unix port: a PC, not a board; scale
by the ratio of a board's speed when reading the figures):
  - Button.poll(): one debounce/gesture step, with a C-speed pin stand-in (a board's Pin.value()
    is C) and with the simulated Pin (Python, so slower than any board's);
  - one iteration of the polling task (asyncio sleep_ms(0) + poll), i.e. what the event loop
    pays per poll, and the same per second at the default poll interval (10 ms);
  - one LED frame (pulse pattern) and one PWM fade frame, for comparison;
  - the heap ``import drivers`` takes, with the modules it loads (the drivers take their
    timing helpers from microhttp.compat, and nothing more of microhttp);
  - the heap the drivers and the virtual board's devices take, before and after
    drivers.board.unload();
on the 64-bit unix port (pointers twice a board's size) or, with --bits 32, a board's word
size. It compiles every module of firmware/lib/drivers and firmware/lib/microhttp with
mpy-cross (the benchmark runs on these .mpy files, as deployed) and reports the drivers' sizes.

Usage: python tools/bench_drivers.py [--rounds N] [--bits 32] [--json]
"""

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

from build_image import HOST_ONLY

ROOT = Path(__file__).resolve().parent.parent
DRIVERS = ROOT / "firmware" / "lib" / "drivers"
MICROHTTP = ROOT / "firmware" / "lib" / "microhttp"

BENCH = r"""
import asyncio, gc, time, json, sys
import machine

# RAM the driver code (.mpy, as deployed) and the virtual board's four devices take, with
# asyncio already loaded (the app needs it anyway); then after drivers.board.unload().
asyncio.Event()
asyncio.ThreadSafeFlag()
gc.collect()
_before = gc.mem_alloc()
import drivers
gc.collect()
_heap_import = gc.mem_alloc() - _before
_modules_import = sorted(name for name in sys.modules if name.startswith(("drivers", "microhttp")))
from drivers.board import load_board
_board = load_board(%(board)r, machine)
del load_board
gc.collect()
_heap_board = gc.mem_alloc() - _before
import drivers.board
drivers.board.unload()
gc.collect()
_heap_unloaded = gc.mem_alloc() - _before
_board.deinit()
del _board

from drivers import Button, Led, PwmOut

ROUNDS = %(rounds)d


class ConstPin:
    pass


def c_pin():
    # a board's Pin.value() is C: int() is a C call with no arguments, so only our code is timed
    pin = ConstPin()
    pin.value = int
    return pin


def per_call_us(fn, n):
    gc.collect()
    t0 = time.ticks_us()
    for _ in range(n):
        fn()
    return time.ticks_diff(time.ticks_us(), t0) / n


def loop_overhead_us(n):
    gc.collect()
    t0 = time.ticks_us()
    for _ in range(n):
        pass
    return time.ticks_diff(time.ticks_us(), t0) / n


now = [0]
clock = lambda: now[0]
results = {"heap_bytes_import_drivers": _heap_import, "modules_loaded_by_import_drivers": _modules_import,
           "heap_bytes_drivers_and_virtual_board": _heap_board, "heap_bytes_after_unload": _heap_unloaded}
base = loop_overhead_us(ROUNDS)

b = Button("b", c_pin(), clock=clock)
results["poll_us_const_pin"] = per_call_us(lambda: b.poll(0), ROUNDS) - base

machine.sim.configure(port="esp32")
sb = Button("b", machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP), clock=clock)
results["poll_us_sim_pin"] = per_call_us(lambda: sb.poll(0), ROUNDS) - base

led = Led("led", pwm=machine.PWM(machine.Pin(16), freq=1000, duty_u16=0), clock=clock)
led.command({"pattern": "pulse", "period_ms": 1000, "transition_ms": 0})
def frame():
    now[0] += 20
    led.tick(now[0])
results["led_frame_us"] = per_call_us(frame, ROUNDS // 10) - base

pwm = PwmOut("pwm", machine.PWM(machine.Pin(18), freq=1000, duty_u16=0), clock=clock)
def fade_frame():
    now[0] += 1
    pwm.tick(now[0])
pwm.command({"fade": {"to": 1, "ms": 10 * ROUNDS, "easing": "ease_in_out"}})
results["pwm_fade_frame_us"] = per_call_us(fade_frame, ROUNDS // 10) - base


async def task_iterations(n):
    # the polling task's body with a 0 ms sleep: what one poll costs the event loop
    tb = Button("t", c_pin(), poll_ms=0)
    count = [0]
    async def body():
        while count[0] < n:
            tb.poll()
            count[0] += 1
            await asyncio.sleep_ms(0)
    gc.collect()
    t0 = time.ticks_us()
    await body()
    return time.ticks_diff(time.ticks_us(), t0) / n

results["task_iteration_us"] = asyncio.run(task_iterations(ROUNDS))
gc.collect()
before = gc.mem_alloc()
for _ in range(100):
    b.poll(0)
results["poll_bytes_allocated_per_call"] = (gc.mem_alloc() - before) / 100
print("@@BENCH " + json.dumps(results))
"""


def micropython(bits):
    """The provisioned unix-port interpreter (tools/provision_micropython.py)."""
    import provision_micropython

    return provision_micropython.interpreter(bits)


def compile_drivers(out):
    """The driver package, and microhttp beside it, as .mpy files under ``out``; returns
    {driver file: size}."""
    sizes = {}
    for source in (DRIVERS, MICROHTTP):
        package = Path(out) / source.name
        package.mkdir()
        for src in sorted(source.glob("*.py")):
            if src.name in HOST_ONLY:
                continue
            target = package / (src.stem + ".mpy")
            subprocess.run(["mpy-cross", "-o", str(target), str(src)], check=True)
            if source is DRIVERS:
                sizes[src.name] = target.stat().st_size
    return sizes


def run_bench(rounds, mpy_dir, bits):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", str(ROOT / "tools" / "sim"), mpy_dir])
    script = Path(mpy_dir) / "bench_drivers_script.py"
    script.write_text(BENCH % {"rounds": rounds, "board": str(ROOT / "boards" / "virtual.json")})
    proc = subprocess.run([micropython(bits), "-X", "heapsize=4m", str(script)], env=env, capture_output=True,
                          text=True, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("@@BENCH "):
            return json.loads(line[len("@@BENCH "):])
    raise SystemExit("benchmark failed:\n" + proc.stdout + proc.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--bits", type=int, choices=(32, 64), default=64,
                        help="the unix port's word size (32: a board's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        sizes = compile_drivers(out)
        figures = run_bench(args.rounds, out, args.bits)
    poll_ms = 10
    per_second = figures["task_iteration_us"] * 1000 / poll_ms
    report = {"bits": args.bits, "micropython": figures, "polls_per_second": 1000 // poll_ms,
              "task_us_per_second_at_10ms": per_second, "cpu_percent_at_10ms": per_second / 1e4,
              "mpy_bytes": sizes, "mpy_total_bytes": sum(sizes.values())}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print("MicroPython unix port, %d-bit, %d rounds" % (args.bits, args.rounds))
    print("  Button.poll(), C-level pin (int())  : %6.2f us" % figures["poll_us_const_pin"])
    print("  Button.poll(), simulated Pin (Python): %5.2f us" % figures["poll_us_sim_pin"])
    print("  polling task iteration (sleep + poll): %6.2f us" % figures["task_iteration_us"])
    print("  per second at poll_ms=10 (100 polls): %6.0f us = %.3f %% of one core"
          % (per_second, per_second / 1e4))
    print("  bytes allocated per poll             : %6.2f" % figures["poll_bytes_allocated_per_call"])
    print("  LED pulse frame                      : %6.2f us" % figures["led_frame_us"])
    print("  PWM fade frame                       : %6.2f us" % figures["pwm_fade_frame_us"])
    print("  heap: import drivers (.mpy)          : %6d bytes, loading %s"
          % (figures["heap_bytes_import_drivers"], ", ".join(figures["modules_loaded_by_import_drivers"])))
    print("  heap: drivers + virtual board (.mpy) : %6d bytes, %d after drivers.board.unload()"
          % (figures["heap_bytes_drivers_and_virtual_board"], figures["heap_bytes_after_unload"]))
    print(".mpy sizes (mpy-cross 1.25):")
    for name, size in sizes.items():
        print("  %-12s %6d bytes" % (name, size))
    print("  %-12s %6d bytes" % ("total", sum(sizes.values())))


if __name__ == "__main__":
    main()
