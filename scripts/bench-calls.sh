#!/usr/bin/env bash
# The authenticated call's own overhead (Connector::call with a cached token) next to a bare
# reqwest GET of the same local URL, measured in the same run; writes its section of
# docs/benchmarks.md (between the calls markers) and leaves the other sections alone.
#   scripts/bench-calls.sh        (make bench-calls)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p latchkey-connect --bench calls -- --noplot "$@"
python3 - <<'PY'
import json, os, platform, datetime, subprocess
root = os.getcwd()
crit = os.path.join(root, "target", "criterion", "call")
def mean(name):
    with open(os.path.join(crit, name, "new", "estimates.json")) as f:
        e = json.load(f)["mean"]
    return e["point_estimate"], e["confidence_interval"]["lower_bound"], e["confidence_interval"]["upper_bound"]
def us(ns):
    return f"{ns / 1000:.1f} µs"
call, call_lo, call_hi = mean("connector_call_cached_token")
base, base_lo, base_hi = mean("baseline_bare_reqwest_get")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
load = os.getloadavg()[0]
lines = [
    "## Calls made with a token (`make bench-calls` → `scripts/bench-calls.sh`, criterion)",
    "",
    f"- Date: {datetime.date.today().isoformat()}; machine: {cpu}, {os.cpu_count()} cores; {rustc}, release profile",
    f"- Load average when the report was written: {load:.2f}",
    "- Both to one local keep-alive HTTP server answering a 52-byte JSON body; tokio, 2 worker threads.",
    "",
    "| benchmark | mean (95% CI) | baseline | baseline mean (95% CI) | overhead |",
    "|---|---|---|---|---|",
    f"| `Connector::call`, cached unexpired token | {us(call)} ({us(call_lo)}–{us(call_hi)}) | bare reqwest GET, same URL and bearer header | {us(base)} ({us(base_lo)}–{us(base_hi)}) | {us(call - base)} ({call / base:.2f}×) |",
    "",
    "The overhead is the call's own work: opening the sealed token from the local cache",
    "(file read + XChaCha20-Poly1305 + JSON), resolving the catalog entry, checking the host, and",
    "building the request through the `http` types. A provider's own latency (tens to hundreds of",
    "milliseconds) dwarfs it.",
]
path = os.path.join(root, "docs", "benchmarks.md")
doc = open(path).read()
begin, end = "<!-- calls:begin (written by scripts/bench-calls.sh) -->", "<!-- calls:end -->"
if begin not in doc:
    doc = doc.rstrip() + "\n\n" + begin + "\n" + end + "\n"
s, e = doc.index(begin) + len(begin), doc.index(end)
doc = doc[:s] + "\n" + "\n".join(lines) + "\n" + doc[e:]
open(path, "w").write(doc)
print("wrote the calls section of docs/benchmarks.md")
PY
