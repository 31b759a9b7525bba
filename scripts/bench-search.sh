#!/usr/bin/env bash
# Federated search's own cost next to a baseline from the same run (the same eight fake
# providers, 50-800 ms, awaited directly with no engine), a cached query, and the memory
# a full result cache takes; then the real menu's idle memory with the cache full next to
# the same app before its first search (an ignored test in
# src-tauri/tests/desktop_end_to_end.rs drives the window; a few minutes). Writes its
# section of docs/benchmarks.md (between the search markers) and leaves the others alone.
#   scripts/bench-search.sh        (make bench-search)
#   SKIP_MENU_MEMORY=1 scripts/bench-search.sh   (the engine figures only)
#   REUSE_MENU_MEMORY=1 scripts/bench-search.sh  (the menu's figures from the last run's
#                                                 test-output/bench-search-memory.json)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(cargo bench -q -p latchkey-search --bench fan_out 2>/dev/null | tail -n 1)"
echo "$OUT"
MEMORY=test-output/bench-search-memory.json
[ -n "${REUSE_MENU_MEMORY:-}" ] && [ -f "$MEMORY" ] || rm -f "$MEMORY"
if [ -z "${SKIP_MENU_MEMORY:-}" ] && [ ! -f "$MEMORY" ]; then
  scripts/with-keychain.sh -- cargo test -q -p latchkey-desktop --test desktop_end_to_end \
    bench_menu_memory_with_a_full_search_cache -- --ignored --exact >&2
  cat "$MEMORY"
fi
BENCH_JSON="$OUT" MEMORY_JSON="$([ -f "$MEMORY" ] && cat "$MEMORY" || echo null)" python3 - <<'PY'
import json, os, platform, datetime, subprocess
r = json.loads(os.environ["BENCH_JSON"])
root = os.getcwd()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
load = os.getloadavg()[0]
ms = lambda v: f"{v:.1f} ms"
met = lambda ok: "**met**" if ok else "**not met**"
lines = [
    "## Federated search (`make bench-search` → `scripts/bench-search.sh`)",
    "",
    f"- Date: {datetime.date.today().isoformat()}; commit {commit}; machine: {cpu}, {os.cpu_count()} cores; {rustc}, release profile; load average {load:.2f}",
    f"- Eight fake providers answering after {', '.join(str(x) for x in r['latencies_ms'])} ms, ten hits each; medians of {r['rounds']} rounds.",
    "- Baseline, same run: the same adapters and fakes awaited directly on a `JoinSet`, no engine (no cache, ranking, link checks or ids).",
    "",
    "| measure | engine | baseline | target | |",
    "|---|---|---|---|---|",
    f"| first results, after the fastest provider answered | {ms(r['engine_first_after_fastest_ms'])} | {ms(r['baseline_first_ms'] - r['latencies_ms'][0])} | ≤ 50 ms | {met(r['engine_first_after_fastest_ms'] <= 50)} |",
    f"| whole result, after the slowest provider answered (the fan-out's overhead) | {ms(r['engine_overhead_ms'])} | {ms(r['baseline_overhead_ms'])} | ≤ 50 ms | {met(r['engine_overhead_ms'] <= 50)} |",
    f"| a cached query, all eight providers (median; max of 200) | {r['cached_query_ms']*1000:.0f} µs ({r['cached_query_max_ms']*1000:.0f} µs) | — | ≤ 5 ms | {met(r['cached_query_max_ms'] <= 5)} |",
    f"| memory of a full result cache alone (RSS growth, this process) | {r['full_cache_rss_kib']/1024:.1f} MiB | {(r['rss_kib']-r['full_cache_rss_kib'])/1024:.1f} MiB before | (bounded: 256 entries, 4 MiB of results) | |",
]
m = json.loads(os.environ.get("MEMORY_JSON") or "null")
if m:
    mib = lambda kib: f"{kib/1024:.0f} MiB"
    def row(label, after, before, key="pss_kib"):
        a, b = after[key], before[key]
        return f"| {label} | {mib(a)} | {mib(b)} | {a/b:.2f}× | ≤ 1.10× | {met(a <= 1.10 * b)} |"
    def part(label, after, before, name):
        a, b = after["pss_by_process_kib"][name], before["pss_by_process_kib"][name]
        return f"| {label} | {mib(a)} | {mib(b)} | {a/b:.2f}× | | |"
    ob, hb, oa, ha, hw = m["open_before"], m["hidden_before"], m["open_after"], m["hidden_after"], m["half_way"]
    lines += [
        "",
        f"The real menu (debug build, Xvfb) with a Salesforce-shaped provider of 2,000 Accounts: idle before its first search, then after {m['queries']} distinct queries typed into the window ({m['results_shown']} results shown; the cache holds its 256 newest), each figure the median of 7 samples of PSS summed over the app and its WebKit processes; \"in the tray\" is a minute after the window was put away.",
        "",
        "| menu idle | cache full | before any search | ratio | target | |",
        "|---|---|---|---|---|---|",
        row("window open, whole app", oa, ob),
        row("in the tray, whole app", ha, hb),
        part("in the tray: the app's own process (the cache and its ids live here)", ha, hb, "latchkey-deskto"),
        part("in the tray: the webview's web process", ha, hb, "WebKitWebProces"),
        part("in the tray: the webview's network process", ha, hb, "WebKitNetworkPr"),
        f"| half-way ({m['queries']//2} queries), window open, whole app | {mib(hw['pss_kib'])} | {mib(ob['pss_kib'])} | {hw['pss_kib']/ob['pss_kib']:.2f}× | | |",
        "",
        "Where it goes: the cache and its ids (Rust, the app's own process) add about 2 MiB, as",
        "the engine's own figure above says. The rest is the webview's web process, which grows",
        "while the first couple of hundred result lists are shown and then stays flat (half-way",
        "and the end are the same), and does not give it back when the window is put away: the",
        "price of showing results, not of keeping them. Sending each update as JSON bytes over a",
        "Tauri channel instead of as an event (so no new script per update) was measured the same",
        "way and changed nothing; neither did reloading the page after the searches (measured the",
        "same way: the web process stayed where it was). So it is memory WebKit's own allocator keeps",
        "for reuse once the page has built and dropped that many result lists, whatever the page",
        "holds. Next to try: WebKit's memory-pressure settings for the web process. Until then the",
        "whole-app target is",
        "not met and is reported as such.",
    ]
lines += [
    "",
    "The cache is bounded at 256 entries and 4 MiB of results, so its share of the menu's memory",
    "cannot grow past that whatever the user types.",
]
path = os.path.join(root, "docs", "benchmarks.md")
doc = open(path).read()
begin, end = "<!-- search:begin (written by scripts/bench-search.sh) -->", "<!-- search:end -->"
if begin not in doc:
    doc = doc.rstrip() + "\n\n" + begin + "\n" + end + "\n"
s, e = doc.index(begin) + len(begin), doc.index(end)
doc = doc[:s] + "\n" + "\n".join(lines) + "\n" + doc[e:]
open(path, "w").write(doc)
print("wrote the search section of docs/benchmarks.md")
PY
