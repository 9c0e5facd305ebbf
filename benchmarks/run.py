"""Run pm's benchmarks side by side with PM2, supervisord and circus; print a table of medians.

    python benchmarks/run.py [--quick] [--only 1,3] [--managers pm,pm2] [--reps N] [--json PATH]
    python benchmarks/run.py --only 8 [--reloads N] [--rate R] [--variants pm,pm2]
                                                              (reloads under load)
    python benchmarks/run.py --markdown RESULTS.json    (print a results file's doc block)

Peers that are not installed are skipped, and a target that compares against one of them then
says "not compared", never "yes". Ratios are pm's cost relative to the column, so below 1 means
pm is better (for lines/s the ratio is inverted to keep that reading). The table is rendered
from the results written to --json, by benchmarks/report.py, which also renders the tables
published in docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import procs, reload_report, report
from benchmarks.apps import write_apps
from benchmarks.managers import MANAGERS, PYTHON
from benchmarks.reload import ReloadSettings, run_reload, variants_for
from benchmarks.workloads import RELOAD, WORKLOADS, Bench, as_json, run_selected


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions, shorter windows, 200 apps for workload 7",
    )
    parser.add_argument(
        "--only",
        help="comma-separated workload numbers (1-8; default 1-7: "
        "8, reloads under load, runs only when asked and has its own results)",
    )
    parser.add_argument(
        "--managers",
        default="pm,pm2,supervisord,circus",
        help="comma-separated managers to compare (default: all installed)",
    )
    parser.add_argument("--reps", type=int, help="repetitions per measurement")
    parser.add_argument("--apps", type=int, help="apps for workloads 2, 4 and 6 (default 50)")
    parser.add_argument("--scale", type=int, help="apps for workload 7 (default 1000)")
    parser.add_argument(
        "--lines",
        help="line counts for workload 5, comma-separated "
        "(default 200000, plus 1000000 in a full run)",
    )
    parser.add_argument("--reloads", type=int, help="reloads in workload 8 (default 5)")
    parser.add_argument("--rate", type=float, help="requests/s in workload 8 (default 300)")
    parser.add_argument(
        "--variants",
        help="workload 8's variants, comma-separated: pm, "
        "pm-reuseport, pm2 (default: all of the selected managers)",
    )
    parser.add_argument(
        "--json",
        default=str(Path(__file__).parent / "results" / "latest.json"),
        help="where to write the results as JSON",
    )
    parser.add_argument(
        "--markdown",
        metavar="RESULTS",
        help="run nothing: print the docs/performance.md block for a results file",
    )
    return parser.parse_args(argv)


def make_bench(args: argparse.Namespace, workdir: Path) -> Bench:
    wanted = [name.strip() for name in args.managers.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in MANAGERS]
    if unknown:
        raise SystemExit(
            f"unknown manager(s) {', '.join(unknown)}; choose from {', '.join(MANAGERS)}"
        )
    present = [name for name in wanted if MANAGERS[name].available()]
    for name in sorted(set(wanted) - set(present)):
        print(f"{name}: not installed, skipped", file=sys.stderr)
    bench = Bench(
        workdir,
        write_apps(workdir / "apps"),
        present,
        reps=args.reps or (2 if args.quick else 5),
        quick=args.quick,
    )
    if args.quick:
        bench.round_trips, bench.respawns, bench.idle_seconds = 8, 8, 5.0
        bench.scale = 200
    else:
        bench.lines = [200_000, 1_000_000]
    if args.apps:
        bench.fleet = args.apps
        bench.status_apps = min(bench.status_apps, args.apps)
    if args.scale:
        bench.scale = args.scale
    if args.lines:
        bench.lines = [int(count) for count in args.lines.split(",")]
    return bench


def reload_settings(args: argparse.Namespace) -> ReloadSettings:
    settings = ReloadSettings()
    if args.quick:
        settings.reloads, settings.warmup, settings.pause, settings.tail = 2, 1.0, 0.5, 1.0
    if args.reloads is not None:
        settings.reloads = args.reloads
    if args.rate is not None:
        settings.rate = args.rate
    return settings


# ------------------------------------------------------------------------------ context


def pm2_version() -> str | None:
    """PM2's version from its package.json: `pm2 --version` may start a daemon in ~/.pm2."""
    binary = shutil.which("pm2")
    if binary is None:
        return None
    try:
        package = Path(binary).resolve().parent.parent / "package.json"
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "?"


def version(argv: list[str]) -> str:
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, PM2_HOME="/nonexistent-pm2"),
        )
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (
        (result.stdout.strip() or result.stderr.strip()).splitlines()[-1:][0]
        if (result.stdout.strip() or result.stderr.strip())
        else "?"
    )


def machine() -> dict[str, object]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    bindir = Path(PYTHON).parent
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "load_avg_at_start": os.getloadavg(),
        "versions": {
            "pm": version([PYTHON, "-m", "pm", "--version"]),
            "pm2": pm2_version(),
            "supervisord": version([str(bindir / "supervisord"), "--version"])
            if (bindir / "supervisord").exists()
            else None,
            "circus": version([str(bindir / "circusd"), "--version"])
            if (bindir / "circusd").exists()
            else None,
        },
    }


def compile_pm() -> str:
    """Byte-compile pm's modules, as `pip install` does for an installed package.

    An editable checkout run with PYTHONDONTWRITEBYTECODE set (as in some shells and CI) would
    otherwise recompile pm from source on every command, which no installed pm does; the peers'
    Python modules (supervisorctl, circusctl) are compiled by pip at install time.
    """
    import importlib.util

    spec = importlib.util.find_spec("pm")
    if spec is None or not spec.submodule_search_locations:
        return "pm not importable"
    folder = list(spec.submodule_search_locations)[0]
    result = subprocess.run(
        [PYTHON, "-m", "compileall", "-q", folder], capture_output=True, text=True, timeout=120
    )
    return f"compiled {folder}" if result.returncode == 0 else f"compileall failed: {result.stderr}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        return report.main([args.markdown])
    only = (
        [int(item) for item in args.only.split(",")]
        if args.only
        else [number for number in WORKLOADS if number != RELOAD]
    )
    if any(number not in WORKLOADS for number in only):
        raise SystemExit(f"--only takes workload numbers among {sorted(WORKLOADS)}")
    keys = args.variants.split(",") if args.variants else None
    variants_for(list(MANAGERS), keys)  # an unknown name stops the run before it starts
    procs.install_exit_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="pmbench", dir="/tmp"))
    procs.on_cleanup(lambda: shutil.rmtree(workdir, ignore_errors=True))
    bench = make_bench(args, workdir)
    context = machine()
    context["pm_bytecode"] = compile_pm()
    started = datetime.datetime.now(datetime.timezone.utc)
    print(
        f"pm benchmarks {started:%Y-%m-%d %H:%M} UTC on {context['cpu']} "
        f"({context['cores']} cores), load {os.getloadavg()[0]:.2f}; "
        f"managers: {', '.join(bench.managers)}",
        flush=True,
    )
    bench.log = lambda text: print(text, file=sys.stderr, flush=True)
    reload = None
    try:
        metrics = run_selected(bench, [number for number in only if number != RELOAD])
        if RELOAD in only:
            bench.log(f"workload {RELOAD}: {WORKLOADS[RELOAD]}")
            reload = run_reload(bench, reload_settings(args), keys)
    finally:
        procs.cleanup_all()
    context["load_avg_at_end"] = os.getloadavg()
    finished = datetime.datetime.now(datetime.timezone.utc)
    results = {
        "date": started.isoformat(timespec="seconds"),
        "wall_seconds": round((finished - started).total_seconds()),
        "machine": context,
        "args": vars(args),
        "managers": bench.managers,
        "reps": bench.reps,
        "results": [as_json(metric) for metric in metrics],
    }
    if reload is not None:
        results["reload"] = reload
    if metrics:
        print()
        print(report.table(results))
        print(
            "\nmedians; n = pm's samples; ratio = pm's cost relative to the column "
            "(< 1: pm better; lines/s inverted)"
        )
        print(report.summary(results))
    if reload is not None:
        print()
        print(reload_report.table(reload))
        print(reload_report.summary(reload))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
