#!/usr/bin/env python3
"""Writes the synthetic Mahimahi delivery traces of this folder.

A trace has one line per delivery opportunity of one 1500-byte packet: the
millisecond it happens at; the last line is the period after which the
trace repeats (see libtcpu/lab/trace.h).  A rate of R bit/s is
R / 12,000,000 opportunities per millisecond; fractions carry over to the
next millisecond, so the mean rate is exact.

    python3 contrib/traces/make-traces.py [DIR]   (default: this folder)

The output is the same on every run (a fixed seed).
"""
import os
import random
import sys

OPP_BITS = 1500 * 8


def write(path, rates_mbps_per_ms):
    """rates_mbps_per_ms[i] is the rate during millisecond i + 1."""
    lines = []
    credit = 0.0
    for i, mbps in enumerate(rates_mbps_per_ms):
        credit += mbps * 1e6 / 1000 / OPP_BITS
        n = int(credit)
        credit -= n
        lines.extend([str(i + 1)] * n)
    period = len(rates_mbps_per_ms)
    # The last line is the period: make sure the final millisecond has one.
    if not lines or lines[-1] != str(period):
        lines.append(str(period))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    mean = len(lines) * OPP_BITS * 1000 / period / 1e6
    print(f"{path}: {len(lines)} opportunities over {period} ms, "
          f"mean {mean:.3f} Mbit/s")


def lte_like(seconds=60, seed=20261123):
    """A cellular-looking rate: a random walk in log space between 1 and 60
    Mbit/s, one step every 20 ms, with a 200-800 ms fade to 0.5 Mbit/s
    about every 10 s (handover or a deep fade)."""
    rng = random.Random(seed)
    rate = 15.0
    out = []
    ms = 0
    fade_left = 0
    while ms < seconds * 1000:
        if fade_left == 0 and rng.random() < 20 / 10000:
            fade_left = rng.randint(200, 800) // 20
        if fade_left > 0:
            step_rate = 0.5
            fade_left -= 1
        else:
            rate *= 2 ** rng.gauss(0, 0.12)
            rate = min(60.0, max(1.0, rate))
            step_rate = rate
        out.extend([step_rate] * 20)
        ms += 20
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.abspath(__file__))
    write(os.path.join(d, "const-12mbit.trace"), [12.0] * 1000)
    write(os.path.join(d, "step-50-10-50mbit.trace"),
          [50.0] * 5000 + [10.0] * 5000 + [50.0] * 5000)
    write(os.path.join(d, "lte-like.trace"), lte_like())


if __name__ == "__main__":
    main()
