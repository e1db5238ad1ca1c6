#!/usr/bin/env python3
"""Dwell-time CDFs from bench_viability's JSON, with each strategy's pre-relocation +
relocation time as a vertical line: one panel per kind of UE (vehicles, pedestrians), one
curve per granularity (an edge host per 5G access point, per access point, per zone).

    bench_viability --grid-report thesis-grid-X/results.json --json viability.json
    benchmarks/plot_viability.py viability.json viability.png [--workload a3] [--link normal]

Draws with gnuplot (gnuplot-nox, as bench_thesis_grid does: no Python plotting stack); the
data files and the script stay beside the PNG (<png>.d/) so a plot can be remade by hand.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys

LEVELS = [("5g_ap", "per 5G access point"), ("any_ap", "per access point"), ("zone", "per zone")]
KINDS = [("vehicle", "vehicles"), ("pedestrian", "pedestrians")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="bench_viability --json output")
    ap.add_argument("png", help="the picture to write")
    ap.add_argument("--workload", default="a3", help="which workload's times to draw (a1, a2, a3)")
    ap.add_argument("--link", default="normal", help="which link's times to draw (normal, congested)")
    ap.add_argument("--gnuplot", default="gnuplot")
    a = ap.parse_args()

    doc = json.loads(pathlib.Path(a.json).read_text())
    png = pathlib.Path(a.png).resolve()
    work = png.with_name(png.name + ".d")
    work.mkdir(parents=True, exist_ok=True)

    panels = []
    for kind, kind_title in KINDS:
        curves = []
        for level, title in LEVELS:
            xs = sorted(s["seconds"] for s in doc["stays"]
                        if s["kind"] == kind and not s["censored"] and
                        (s["level"] == level or (level == "any_ap" and s["level"] != "zone")))
            if not xs:
                continue
            data = work / f"{kind}_{level}.dat"
            with data.open("w") as f:
                f.write(f"# {kind} {level}: complete stays, seconds and cumulative share\n")
                for i, x in enumerate(xs, 1):
                    f.write(f"{x:.3f} {i / len(xs):.5f}\n")
            curves.append((data.name, f"{title} ({len(xs)} stays)"))
        if curves:
            panels.append((kind_title, curves))
    if not panels:
        sys.exit(f"{a.json}: no complete stay of a vehicle or a pedestrian to draw")

    times = [t for t in doc.get("migration_times", []) if t["workload"] == a.workload and t["link"] == a.link]
    lines = []
    for i, t in enumerate(times):
        x = t["total_ms"] / 1000.0
        lines.append(f"set arrow {i + 1} from {x:.3f}, graph 0 to {x:.3f}, graph 1 nohead dt 2 lw 1.5 lc {i + 4}")
        lines.append(f"set label {i + 1} '{t['method']} {x:.1f} s' at {x:.3f}, graph {0.97 - 0.06 * i:.2f} "
                     f"left offset 0.3,0 font ',9' tc lt {i + 4}")
    where = f"{a.workload} {a.link}" if times else "no grid report"
    gp = [
        f"set terminal pngcairo size 1400,560 font ',11'" if _has_cairo(a.gnuplot) else "set terminal png size 1400,560",
        "set termoption noenhanced",   # method names have underscores
        f"set output '{png}'",
        f"set multiplot layout 1,{len(panels)} title \"{doc['scenario']}: how long a UE stays "
        f"({doc['duration_s']:.0f} s replayed, step {doc['step_s']} s; censored stays left out); dashed: "
        f"pre-relocation + relocation, {where}\"",
        "set logscale x",
        "set xlabel 'stay, s (log)'",
        "set ylabel 'share of stays <= x'",
        "set yrange [0:1]",
        "set key bottom right",
        "set grid",
        *lines,
    ]
    for title, curves in panels:
        gp.append(f"set title '{title}'")
        gp.append("plot " + ", ".join(f"'{d}' using 1:2 with steps lw 2 title '{t}'" for d, t in curves))
    gp.append("unset multiplot")
    script = work / "plot.gp"
    script.write_text("\n".join(gp) + "\n")
    if not shutil.which(a.gnuplot):
        sys.exit(f"{a.gnuplot} not found: the data and {script} are written; plot with `gnuplot plot.gp` in {work}")
    subprocess.run([a.gnuplot, script.name], cwd=work, check=True)
    print(f"{png} (data and script in {work})")


def _has_cairo(gnuplot):
    if not shutil.which(gnuplot):
        return False
    r = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (r.stdout + r.stderr)


if __name__ == "__main__":
    main()
