#!/usr/bin/env python3
"""Median [min - max] of every figure recorded by the bench scripts.

Input: TSV lines `name <TAB> value <TAB> unit`, one per figure per run (bench/lib.sh's
`record`). Output: one line per figure, in the order first recorded, or a Markdown table
with --markdown.

    python3 bench/summarise.py bench/out/ingest.tsv
"""
import argparse
import statistics


def fmt(x):
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}".replace(",", " ")
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tsv")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    figures = {}
    units = {}
    with open(args.tsv, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            name, value, unit = parts
            try:
                figures.setdefault(name, []).append(float(value))
            except ValueError:
                continue
            units[name] = unit
    if args.markdown:
        print("| figure | median | min – max | unit | runs |")
        print("|---|---:|---|---|---:|")
    for name, values in figures.items():
        med, lo, hi = statistics.median(values), min(values), max(values)
        if args.markdown:
            print(f"| {name} | {fmt(med)} | {fmt(lo)} – {fmt(hi)} | {units[name]} | {len(values)} |")
        else:
            print(f"{name:<56} {fmt(med):>10}  [{fmt(lo)} – {fmt(hi)}]  {units[name]}  ({len(values)} runs)")


if __name__ == "__main__":
    main()
