#!/usr/bin/env python3
"""Measures the Latchkey desktop app next to a minimal Tauri 2 tray app and writes
the desktop section of docs/benchmarks.md. Run by scripts/bench-desktop.sh, which
builds both binaries and starts this inside a private D-Bus session with an
unlocked gnome-keyring (scripts/with-keychain.sh).

For each app, in alternating runs on one private Xvfb display:
- start time: from spawning the binary until `xwininfo -name TITLE` reports the
  top-level window as mapped (Map State: IsViewable), polled every POLL_MS;
- idle memory: SETTLE seconds after that, the sum of PSS (and RSS) from
  /proc/PID/smaps_rollup over the app process and all its descendants
  (WebKitWebProcess, WebKitNetworkProcess, ...);
- the release binary's size.
Each run gets fresh, empty LATCHKEY_DATA_DIR and XDG directories, runs in its own
process group, and that group (plus every descendant seen) is killed afterwards.
"""
import argparse
import datetime
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BEGIN = "<!-- desktop:begin (written by scripts/bench-desktop.py) -->"
END = "<!-- desktop:end -->"
TARGET_RATIO = 1.3
TARGET_BINARY_BYTES = 15_000_000


# ---- processes -------------------------------------------------------------

def proc_table():
    """pid -> (ppid, pgrp, comm) for every live process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: split at the last ')'.
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), int(fields[2]), comm)
    return table


def descendants(pid, table=None):
    table = table if table is not None else proc_table()
    children = {}
    for p, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(p)
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def session_services(table, before):
    """Processes a run made D-Bus start for it (the accessibility bus and its
    registry, for one): new since `before`, in our own process group (the
    private session's, which the bus daemon's children keep) though not our own
    descendants, since the bus daemon double-forks them away to init."""
    ours = set(descendants(os.getpid(), table))
    group = os.getpgrp()
    return [p for p, (_, g, _) in table.items()
            if g == group and p not in before and p not in ours and p != os.getpid()]


def memory_kib(pid):
    """(Pss, Rss) in KiB from smaps_rollup, or None once the process is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Pss", "Rss"):
                    values[key] = int(rest.split()[0])
    except OSError:
        return None
    return values.get("Pss", 0), values.get("Rss", 0)


def kill_all(pgid, pids):
    """SIGKILL the run's process group and every pid seen in it, then wait
    until none is left (zombies of our own child are reaped by the caller)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        table = proc_table()
        left = [p for p, (_, g, _) in table.items() if g == pgid or p in pids]
        # A zombie whose parent is gone is reaped by init; ignore zombies.
        left = [p for p in left if not is_zombie(p)]
        if not left:
            return
        time.sleep(0.05)
    raise RuntimeError(f"processes of group {pgid} survived SIGKILL: {left}")


def is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


# ---- one run ---------------------------------------------------------------

def window_mapped(display, title):
    """True when a window named exactly TITLE exists and is viewable."""
    out = subprocess.run(["xwininfo", "-display", display, "-name", title],
                         capture_output=True, text=True)
    return out.returncode == 0 and "Map State: IsViewable" in out.stdout


def run_once(app, display, args):
    tmp = tempfile.mkdtemp(prefix=f"bench-desktop-{app['key']}-")
    env = dict(os.environ)
    for var, sub in (("LATCHKEY_DATA_DIR", "latchkey"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_STATE_HOME", "state"), ("XDG_RUNTIME_DIR", "runtime")):
        path = os.path.join(tmp, sub)
        os.makedirs(path, mode=0o700)
        env[var] = path
    env.update(DISPLAY=display, NO_AT_BRIDGE="1")
    before = set(proc_table())
    if window_mapped(display, app["title"]):
        raise RuntimeError(f"a window titled {app['title']!r} is already there before the run")
    log = open(os.path.join(tmp, "stderr.log"), "wb")
    seen = set()
    started = time.monotonic()
    child = subprocess.Popen([app["binary"]], env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"{app['name']} exited early ({child.returncode}); "
                                   f"stderr: {open(log.name, errors='replace').read()[-2000:]}")
            if window_mapped(display, app["title"]):
                ready_ms = (time.monotonic() - started) * 1000
                break
            if time.monotonic() - started > args.timeout:
                raise RuntimeError(f"{app['name']}: no mapped window titled {app['title']!r} "
                                   f"after {args.timeout} s")
            time.sleep(args.poll_ms / 1000)
        time.sleep(args.settle)
        table = proc_table()
        pids = [child.pid] + descendants(child.pid, table)
        seen.update(pids)
        procs = []
        for pid in pids:
            mem = memory_kib(pid)
            if mem:
                procs.append((table[pid][2], mem[0], mem[1]))
        services = []
        for pid in session_services(table, before):
            mem = memory_kib(pid)
            if mem:
                services.append((table[pid][2], mem[0], mem[1]))
                seen.add(pid)
        return {
            "ready_ms": ready_ms,
            "pss_kib": sum(p[1] for p in procs),
            "rss_kib": sum(p[2] for p in procs),
            "procs": procs,
            "services": services,
        }
    finally:
        kill_all(child.pid, seen)
        child.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


# ---- display ---------------------------------------------------------------

def start_xvfb():
    # -displayfd: Xvfb picks a free display number itself (clearing the locks of dead
    # servers, which a scan of /tmp/.X*-lock cannot tell from live ones) and prints it.
    # -noreset: by default the server resets whenever its last client leaves, and
    # drops connections that arrive meanwhile; with xwininfo polling and apps
    # killed between runs, a starting app would now and then fail to open GTK.
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp", "-noreset"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True, text=True)
    ready, _, _ = select.select([xvfb.stdout], [], [], 10)
    number = xvfb.stdout.readline().strip() if ready else ""
    if not number.isdigit():
        xvfb.kill()
        raise RuntimeError("Xvfb did not start (sudo apt-get install xvfb)")
    deadline = time.monotonic() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}"):
        if time.monotonic() > deadline or xvfb.poll() is not None:
            xvfb.kill()
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    return xvfb, f":{number}"


# ---- report ----------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def command(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def lock_version(lock, name):
    try:
        with open(lock) as f:
            lines = f.read().splitlines()
    except OSError:
        return "?"
    for i, line in enumerate(lines):
        if line == f'name = "{name}"' and i + 1 < len(lines):
            return lines[i + 1].split('"')[1]
    return "?"


def mib(kib):
    return kib / 1024


def verdict(ok):
    return "**met**" if ok else "**not met**"


def per_process(runs):
    """Median PSS/RSS per process name across runs (names in first-seen order)."""
    names = []
    for run in runs:
        for name, _, _ in run["procs"]:
            if name not in names:
                names.append(name)
    rows = []
    for name in names:
        pss = [sum(p[1] for p in r["procs"] if p[0] == name) for r in runs]
        rss = [sum(p[2] for p in r["procs"] if p[0] == name) for r in runs]
        count = statistics.median(sum(1 for p in r["procs"] if p[0] == name) for r in runs)
        rows.append((name, count, statistics.median(pss), statistics.median(rss)))
    return rows


def report(apps, results, args):
    lk, mini = apps
    r_lk, r_mini = results[lk["key"]], results[mini["key"]]

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    def spread(runs, key, scale=1.0, fmt="{:.0f}"):
        values = [r[key] * scale for r in runs]
        return f"{fmt.format(min(values))}–{fmt.format(max(values))}"

    start = (med(r_lk, "ready_ms"), med(r_mini, "ready_ms"))
    pss = (med(r_lk, "pss_kib"), med(r_mini, "pss_kib"))
    rss = (med(r_lk, "rss_kib"), med(r_mini, "rss_kib"))
    size = (os.path.getsize(lk["binary"]), os.path.getsize(mini["binary"]))
    commit = command("git", "rev-parse", "--short", "HEAD")
    if command("git", "status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    webkit = command("dpkg-query", "-W", "-f=${Version}", "libwebkit2gtk-4.1-0")
    tauri = lock_version(os.path.join(ROOT, "Cargo.lock"), "tauri")
    tauri_min = lock_version(os.path.join(ROOT, "bench", "minimal-tauri", "Cargo.lock"), "tauri")

    out = []
    w = out.append
    w("## Desktop app (`make bench-desktop` → `scripts/bench-desktop.sh`)")
    w("")
    w(f"- Date: {datetime.date.today().isoformat()}; commit {commit}")
    w(f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    w(f"- Compiler: {command('rustc', '--version')}; shipping release profile (LTO, 1 codegen unit, "
      "opt-level \"s\", strip, panic=abort) for both apps")
    w(f"- Tauri {tauri} (baseline {tauri_min}), WebKitGTK {webkit or '?'}, Xvfb 1280x800x24, no window manager")
    w(f"- Load average (1 min) before the runs: {args.load_before:.2f}; after: {os.getloadavg()[0]:.2f}")
    note = os.environ.get("BENCH_NOTE")
    if note:
        w(f"- Conditions: {note}")
    w("")
    w(f"Baseline: `bench/minimal-tauri`, one 380x560 window titled \"Minimal\" with a one-line "
      "static page and a tray icon, nothing else. Medians of "
      f"{args.runs} alternating runs per app after {args.warmup} discarded warm-up run(s); each run "
      "with fresh empty data and XDG directories, in a private D-Bus session with an unlocked "
      "gnome-keyring (`NO_AT_BRIDGE=1`). \"Cold\" means a new process and empty profile "
      "directories; the OS file cache is warm.")
    w("")
    w("| measure | Latchkey | minimal Tauri app | ratio | target | |")
    w("|---|---|---|---|---|---|")
    w(f"| start: spawn → window mapped (xwininfo, polled every {args.poll_ms} ms) | "
      f"{start[0]:.0f} ms | {start[1]:.0f} ms | {start[0] / start[1]:.2f}× | ≤ {TARGET_RATIO}× | "
      f"{verdict(start[0] <= TARGET_RATIO * start[1])} |")
    w(f"| idle memory, PSS of the app and its descendants ({args.settle:g} s after the window) | "
      f"{mib(pss[0]):.1f} MiB | {mib(pss[1]):.1f} MiB | {pss[0] / pss[1]:.2f}× | ≤ {TARGET_RATIO}× | "
      f"{verdict(pss[0] <= TARGET_RATIO * pss[1])} |")
    w(f"| idle memory, RSS of the same processes | {mib(rss[0]):.1f} MiB | {mib(rss[1]):.1f} MiB | "
      f"{rss[0] / rss[1]:.2f}× | — | |")
    w(f"| release binary | {size[0]:,} bytes ({size[0] / 1e6:.2f} MB) | {size[1]:,} bytes "
      f"({size[1] / 1e6:.2f} MB) | {size[0] / size[1]:.2f}× | < 15 MB | "
      f"{verdict(size[0] < TARGET_BINARY_BYTES)} |")
    w("")
    w("Spread (min–max over the runs): start "
      f"{spread(r_lk, 'ready_ms')} ms vs {spread(r_mini, 'ready_ms')} ms; PSS "
      f"{spread(r_lk, 'pss_kib', 1 / 1024, '{:.1f}')} MiB vs "
      f"{spread(r_mini, 'pss_kib', 1 / 1024, '{:.1f}')} MiB.")
    w("")
    w("Where the memory is (median per process, MiB):")
    w("")
    w("| app | process | count | PSS | RSS |")
    w("|---|---|---|---|---|")
    for app, runs in ((lk, r_lk), (mini, r_mini)):
        for name, count, p, r in per_process(runs):
            w(f"| {app['name']} | {name} | {count:g} | {mib(p):.1f} | {mib(r):.1f} |")
    w("")
    listed = []
    for app, runs in ((lk, r_lk), (mini, r_mini)):
        names = sorted({name for run in runs for name, _, _ in run["services"]})
        if names:
            pss_services = statistics.median(sum(p[1] for p in run["services"]) for run in runs)
            listed.append(f"{app['name']}: {', '.join(names)} ({mib(pss_services):.1f} MiB PSS)")
    if listed:
        w("D-Bus services the runs activated outside the app's process tree, not counted above and "
          "ended after each run: " + "; ".join(listed) + ".")
    else:
        w("Neither app activated D-Bus services outside its own process tree.")
    return "\n".join(out)


def write_section(text):
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    with open(path) as f:
        doc = f.read()
    if BEGIN not in doc:
        doc = doc.rstrip("\n") + "\n\n" + BEGIN + "\n" + END + "\n"
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    doc = doc[:start] + "\n" + text.rstrip() + "\n" + doc[end:]
    with open(path, "w") as f:
        f.write(doc)


# ---- main ------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latchkey", required=True, help="the release latchkey-desktop binary")
    parser.add_argument("--minimal", required=True, help="the release minimal-tauri binary")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before reading memory")
    parser.add_argument("--poll-ms", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args()

    apps = [
        {"key": "latchkey", "name": "Latchkey", "title": "Latchkey", "binary": args.latchkey},
        {"key": "minimal", "name": "minimal", "title": "Minimal", "binary": args.minimal},
    ]
    for tool in ("Xvfb", "xwininfo"):
        if not shutil.which(tool):
            sys.exit(f"bench-desktop: '{tool}' is missing; run scripts/install-deps.sh")
    args.load_before = os.getloadavg()[0]
    xvfb, display = start_xvfb()
    results = {a["key"]: [] for a in apps}
    try:
        for i in range(args.warmup):
            for app in apps:
                r = run_once(app, display, args)
                print(f"warm-up {app['name']}: {r['ready_ms']:.0f} ms, PSS {mib(r['pss_kib']):.1f} MiB",
                      file=sys.stderr)
        for i in range(args.runs):
            # Alternate which app goes first, so neither always runs right after the other.
            for app in (apps if i % 2 == 0 else apps[::-1]):
                r = run_once(app, display, args)
                results[app["key"]].append(r)
                print(f"run {i + 1}/{args.runs} {app['name']}: window {r['ready_ms']:.0f} ms, "
                      f"PSS {mib(r['pss_kib']):.1f} MiB, RSS {mib(r['rss_kib']):.1f} MiB, "
                      f"{len(r['procs'])} processes", file=sys.stderr)
    finally:
        os.killpg(xvfb.pid, signal.SIGTERM)
        xvfb.wait()
    text = report(apps, results, args)
    print(text)
    if not args.no_write:
        write_section(text)
        print("bench-desktop: wrote docs/benchmarks.md", file=sys.stderr)


if __name__ == "__main__":
    main()
