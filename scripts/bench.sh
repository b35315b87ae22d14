#!/usr/bin/env bash
# Runs batchwire's benchmarks and writes BENCHMARKS.md: the machine, the
# commands, the raw figures, and the comparisons as ratios from this same run.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN="$(scripts/temporal.sh)"
export TEMPORAL_BIN
out="$(mktemp)"
trap 'rm -f "$out" "$out.cmds"' EXIT
# The dev servers' output goes to a file of its own, out of the result lines.
BATCHWIRE_DEVSERVER_LOG="${BATCHWIRE_DEVSERVER_LOG:-$(mktemp)}"
export BATCHWIRE_DEVSERVER_LOG

run() {
	echo "\$ $*" >>"$out.cmds"
	"$@" 2>&1 | grep -E '^(Benchmark|goos|goarch|cpu|pkg)' | tee -a "$out"
}
: >"$out.cmds"
run go test -run '^$' -bench . -benchmem -count 3 ./rules/
run go test -run '^$' -bench . -benchtime 20x ./batch/
run go test -run '^$' -bench Burst20 -benchtime 3x -count 3 ./daemon/
run go test -run '^$' -bench Footprint -benchtime 1x ./daemon/
run go test -run '^$' -bench EventToEffect -benchtime 50x -count 3 ./daemon/
# The fan-out starts FANOUT running workflows (1000 unless set; e.g.
# FANOUT=1000,2000); `go test -bench .` leaves it out unless the variable is set.
# The server batcher runs at the fixed worker.batcherRPS (52 signals/s in every run
# measured), so it runs once.
run env BATCHWIRE_BENCH_FANOUT="${FANOUT:-1000}" \
	go test -run '^$' -bench 'FanOut//(plain-signal-loop|client-engine)$' -benchtime 1x -count 3 -timeout 30m ./batch/
run env BATCHWIRE_BENCH_FANOUT="${FANOUT:-1000}" go test -run '^$' -bench 'FanOut//server-batcher$' -benchtime 1x -count 1 -timeout 30m ./batch/
# FANOUT_LARGE (10000 unless set): the loop and the client engine run twice (each run
# starts and ends 10,000 fresh workflows, about 45 s; a third would take make bench past
# 20 minutes from a clean checkout), the server batcher once, on a dev server whose
# batcher runs at worker.batcherRPS=FANOUT_LARGE_BATCHER_RPS (500 unless set): at the
# default 50/s one server batcher run over 10,000 workflows alone would take 200 s.
# About 4 minutes here.
run env BATCHWIRE_BENCH_FANOUT="${FANOUT_LARGE:-10000}" \
	go test -run '^$' -bench 'FanOut//(plain-signal-loop|client-engine)$' -benchtime 1x -count 2 -timeout 30m ./batch/
run env BATCHWIRE_BENCH_FANOUT="${FANOUT_LARGE:-10000}" BATCHWIRE_BENCH_BATCHER_RPS="${FANOUT_LARGE_BATCHER_RPS:-500}" \
	go test -run '^$' -bench 'FanOut//server-batcher$' -benchtime 1x -count 1 -timeout 30m ./batch/

# mean ns/op of the first benchmark line matching $1
mean() { awk -v pat="$1" '$1 ~ pat { for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") { s += $i; n++ } } END { if (n) printf "%.0f", s / n }' "$out"; }
metric() { awk -v pat="$1" -v unit="$2" '$1 ~ pat { for (i = 2; i <= NF; i++) if ($(i+1) == unit) { s += $i; n++ } } END { if (n) printf "%.1f", s / n }' "$out"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1f×", a / b; else print "n/a" }'; }
# ms prints nanoseconds as milliseconds
ms() { awk -v a="$1" 'BEGIN { if (a > 0) printf "%.0f", a / 1e6; else print "n/a" }'; }
ratio2() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f×", a / b; else print "n/a" }'; }
# median of a metric over the benchmark lines matching $1
median() { awk -v pat="$1" -v unit="$2" '$1 ~ pat { for (i = 2; i <= NF; i++) if ($(i+1) == unit) print $i }' "$out" |
	sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

match1="$(mean 'BenchmarkMatch/rules=1-')"
match1000="$(mean 'BenchmarkMatch/rules=1000-')"
render1="$(mean 'BenchmarkRender/rules=1-')"
render1000="$(mean 'BenchmarkRender/rules=1000-')"
setup="$(mean 'BenchmarkDecisionPath/event-setup-[0-9]')"
setup_attrs="$(mean 'BenchmarkDecisionPath/event-setup-with-attributes')"
perrule1000="$(mean 'BenchmarkDecisionPath/per-rule/rules=1000')"
perrule="$(awk -v a="$perrule1000" 'BEGIN { if (a > 0) printf "%.0f", a / 1000 }')"
celraw="$(mean 'BenchmarkDecisionPath/cel-raw-[0-9]')"
perrule_untyped1000="$(mean 'BenchmarkDecisionPath/per-rule-untyped/rules=1000')"
perrule_untyped="$(awk -v a="$perrule_untyped1000" 'BEGIN { if (a > 0) printf "%.0f", a / 1000 }')"
celraw_untyped="$(mean 'BenchmarkDecisionPath/cel-raw-untyped')"
decision_p99="$(median 'BenchmarkDecisionPath/p99/rules=1000' p99-µs)"
decision_p99_indexed="$(median 'BenchmarkDecisionPath/p99-100-types/rules=1000' p99-µs)"
index1="$(mean 'BenchmarkTypeIndex/types=1-')"
index100="$(mean 'BenchmarkTypeIndex/types=100-')"
server="$(mean 'BenchmarkSignalFiveWorkflows/server-batcher')"
plain="$(mean 'BenchmarkSignalFiveWorkflows/plain-signal-loop')"
client="$(mean 'BenchmarkSignalFiveWorkflows/client-engine')"
script_lost="$(metric 'BenchmarkBurst20/script' 'lost-events/op')"
bw_lost="$(metric 'BenchmarkBurst20/batchwire-server' 'lost-events/op')"
auto_lost="$(metric 'BenchmarkBurst20/batchwire-auto' 'lost-events/op')"
script_ns="$(median 'BenchmarkBurst20/script' ns/op)"
bw_ns="$(median 'BenchmarkBurst20/batchwire-server' ns/op)"
auto_ns="$(median 'BenchmarkBurst20/batchwire-auto' ns/op)"
plain_burst_ns="$(median 'BenchmarkBurst20/plain-list-signal-loop' ns/op)"
effect_p50="$(median 'BenchmarkEventToEffect/batchwire-auto' p50-ms)"
effect_p99="$(median 'BenchmarkEventToEffect/batchwire-auto' p99-ms)"
anchor_p50="$(median 'BenchmarkEventToEffect/plain-list-signal-loop' p50-ms)"
anchor_p99="$(median 'BenchmarkEventToEffect/plain-list-signal-loop' p99-ms)"
fanout_sizes="$(awk -F'[/-]' '/^BenchmarkFanOut\/workflows=/ { sub("workflows=", "", $2); print $2 }' "$out" | sort -un)"

{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%dT%H:%MZ). Temporal figures are"
	echo "against the local dev server ($("$TEMPORAL_BIN" --version 2>/dev/null | head -1)), so they measure this"
	echo "machine, not a production cluster."
	echo
	echo "## Machine"
	echo
	echo "- $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "- CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "- $(go version)"
	echo
	echo "## Comparisons (ratios from this run)"
	echo
	echo "| comparison | figures | ratio |"
	echo "|---|---|---|"
	echo "| rule matching, 1000 rules vs 1 rule | ${match1000} ns vs ${match1} ns per event | $(ratio "$match1000" "$match1") |"
	echo "| one non-matching rule inside Evaluate vs raw cel-go evaluating the same expression (goal: at most 1.5×): \`event.type == \"flag.changed\" && \"flag-N\" in data.flags.updated\`, which Evaluate runs without the type test the index has decided | ${perrule} ns vs ${celraw} ns | $(ratio "$perrule" "$celraw") |"
	echo "| the same like for like: a rule without a type test (\`\"flag-N\" in data.flags.updated\`), both evaluating all of it | ${perrule_untyped} ns vs ${celraw_untyped} ns | $(ratio "$perrule_untyped" "$celraw_untyped") |"
	echo "| one-time cost per event: the activation and decoding the go-feature-flag payload as far as the rules read it (data.flags.updated), attributes unread (goal: under 5000 ns) | ${setup} ns vs 5000 ns | $(ratio2 "$setup" 5000) |"
	echo "| the same with a rule reading an attribute (event.type), which builds them all | ${setup_attrs} ns vs 5000 ns | $(ratio2 "$setup_attrs" 5000) |"
	echo "| one event's decision over 1000 rules over 100 event types (the type index evaluates 10), p99 of the events of a run, median over the runs (goal: under 1000 µs) | ${decision_p99_indexed} µs vs 1000 µs | $(ratio2 "$decision_p99_indexed" 1000) |"
	echo "| the same when all 1000 rules have the event's type (BenchmarkMatch's mix: all 1000 evaluated, the worst case) | ${decision_p99} µs vs 1000 µs | $(ratio "$decision_p99" 1000) |"
	echo "| 1000 rules reading event.type, over 1 type vs over 100 types (the type index evaluates 10 of them) | ${index1} ns vs ${index100} ns per event | $(ratio "$index1" "$index100") |"
	echo "| rendering, 1000 rules vs 1 rule | ${render1000} ns vs ${render1} ns per event | $(ratio "$render1000" "$render1") |"
	echo "| 5-workflow signal job: server batcher vs plain SignalWorkflow loop | ${server} ns vs ${plain} ns | $(ratio "$server" "$plain") slower |"
	if [[ -n "$client" ]]; then
		echo "| 5-workflow signal job: server batcher vs client engine | ${server} ns vs ${client} ns | $(ratio "$server" "$client") |"
	fi
	echo "| 20-event burst: events lost, script (\`temporal workflow signal --query\` per event) vs batchwire server vs batchwire auto | ${script_lost} vs ${bw_lost} vs ${auto_lost} of 20 | |"
	echo "| 20-event burst: wall time, batchwire engine server vs script | $(ms "$bw_ns") ms vs $(ms "$script_ns") ms | $(ratio "$bw_ns" "$script_ns") |"
	echo "| 20-event burst: wall time, batchwire engine server vs engine auto (here the direct engine: no job workflow, no namespace slot) | $(ms "$bw_ns") ms vs $(ms "$auto_ns") ms | $(ratio "$bw_ns" "$auto_ns") |"
	echo
	echo "The script is fast because most of its events fail at once with"
	echo "\"Max concurrent batch operations is reached\"; batchwire queues them per namespace"
	echo "and applies every one."
	echo
	echo "## Issue 10 goals 1-3 (each against its anchor from this run)"
	echo
	echo "| goal | batchwire | anchor | ratio |"
	echo "|---|---|---|---|"
	echo "| 1. event to effect, 5 targets, core NATS, engine auto: p50 (goal: within 3× of the anchor and under 50 ms) | ${effect_p50} ms | plain list+signal loop ${anchor_p50} ms | $(ratio2 "$effect_p50" "$anchor_p50") |"
	echo "| 1. event to effect: p99 | ${effect_p99} ms | plain list+signal loop ${anchor_p99} ms | $(ratio2 "$effect_p99" "$anchor_p99") |"
	echo "| 2. burst of 20 events × 5 targets, engine auto, wall time (goal: 0 lost, within 1.5×) | $(ms "$auto_ns") ms, ${auto_lost} lost | 20 plain list+signal rounds at once $(ms "$plain_burst_ns") ms | $(ratio2 "$auto_ns" "$plain_burst_ns") |"
	for n in $fanout_sizes; do
		loop="$(median "BenchmarkFanOut/workflows=${n}/plain-signal-loop" signals/s)"
		client="$(median "BenchmarkFanOut/workflows=${n}/client-engine" signals/s)"
		server="$(median "BenchmarkFanOut/workflows=${n}/server-batcher" signals/s)"
		batcher_rps="$(median "BenchmarkFanOut/workflows=${n}/server-batcher" batcher-rps | sed 's/\.0$//')"
		runs="$(awk -v pat="BenchmarkFanOut/workflows=${n}/client-engine" '$1 ~ pat { n++ } END { print n + 0 }' "$out")"
		echo "| 3. fan-out over ${n} running workflows, client engine at concurrency 32, default rate (goal: at least 0.9×; ${runs} run(s)) | ${client} signals/s | plain loop at concurrency 32 ${loop} signals/s | $(ratio2 "$client" "$loop") |"
		echo "| 3. fan-out over ${n}: server batcher (worker.batcherRPS=${batcher_rps:-50}, frontend.MaxConcurrentBatchOperationPerNamespace=1) | ${server} signals/s | plain loop ${loop} signals/s | $(ratio2 "$server" "$loop") |"
	done
	echo
	echo "Figures for goals 1 to 3 are medians over the runs (-count 3; over ${FANOUT_LARGE:-10000} workflows"
	echo "the loop and the client engine run twice, a median of two being their mean; the server"
	echo "batcher runs once); the event-to-effect percentiles are over 50 sequential events per run."
	echo
	cat <<'BOUNDS'
## What bounds these figures, and what was changed because of them

**Event to effect (goal 1).** An event's path is now: NATS → rules → admission, whose
preflight, for a job the direct engine may take (engine auto, signal, cancel or
terminate, no rate), lists the query (`ListWorkflowExecutions`, at most
`launch.direct_max` executions) instead of counting it → engine auto picks the direct
engine → the daemon records the listed selection in the JetStream key-value bucket
`BATCHWIRE_DIRECT` → it sends the 5 signals concurrently, with the client engine's
deterministic request ids → it records the job's end. The anchor does the list and the 5
signals, so what is left between the two is the two record writes to JetStream and the
daemon's own path (decode, rules, admission), well under a millisecond each. The issue
measured p50 257 ms here; the client engine path, with the job workflow, measured 35.7 ms
(2.04× the anchor) before the direct engine.
What changed, and why:
- A small job of a repeat-safe operation is no longer a Temporal workflow. The job
  workflow's start, first task and completion (each a round trip through persistence and
  visibility on the server) were most of a small job's time. What its history gave, the
  direct engine's record gives: the selection is recorded before anything is applied,
  the job id is claimed (a redelivered event finds its job ended: a duplicate; another
  job under the id is refused), and a daemon that stops mid-job runs the open records
  again when it starts, from the recorded selection, with the same request ids, so every
  target ends applied once (batch/engine/direct_test.go kills the process running a
  job with SIGKILL and checks each target has exactly one signal).
- The count preflight and the first listing asked the server the same question: a
  direct candidate is listed instead, and the listing is both the count and the
  recorded selection, one visibility call per small job.
- The benchmarks' own fairness: both sides signalled the same 5 workflows, one after
  the other, and a workflow's cost per signal grows with its history, so whichever ran
  last (batchwire) paid for the anchor's signals too; every sub-benchmark now has 5
  fresh workflows. The burst published each event on a new NATS connection (20
  handshakes in the timed part); it now publishes the 20 on one connection at once, as
  the anchor starts its 20 rounds at once.
- Earlier, for the client engine (still used for larger jobs and for resets, deletes and
  option updates): the first page is listed by `engine.Start` and recorded in the start
  event; pages of at most 100 executions of repeat-safe operations are applied as one
  local activity in the first workflow task (a `local_apply` flag in the job's input,
  not `workflow.GetVersion`, whose search attribute upsert cost a visibility write per
  job); and the launcher waits on a job's result instead of polling it.

**Burst (goal 2).** The 20 events are decided concurrently (`max_in_flight` 64 per
trigger), each a listing, two record writes and 5 signals, where the anchor does a
listing and 5 signals per round. Both are bound by the dev server on the same 2 cores,
and by the 5 target workflows: each of the 100 signals is a workflow task on one of them.
Before the direct engine, every event was also a workflow (start, task, completion and
their visibility records), and the burst took 4.66× the anchor.

**Fan-out (goal 3).** The client engine was capped by its default rate, 50/s: the
default of `launch.client_rps` is now 0, no cap, with `launch.client_concurrency` as the
bound (a rule or CLI rate still applies). At the old page size of 100, each page's
listing activity and apply activity held the engine at 0.44× the plain loop over 1000
workflows (769 vs 1755 signals/s in one run); the default page is now 1000, the
largest the server lists. The server batcher runs at `worker.batcherRPS` (default 50/s;
server 1.29 ignores the request's rate) and one job per namespace
(`frontend.MaxConcurrentBatchOperationPerNamespace=1` on the dev server the benchmarks
start); the server batcher's run over 10,000 workflows raises `worker.batcherRPS` to the
rate its row names and runs once, as 200 s per server run at 50/s would dominate
`make bench`.
A CPU profile of the benchmark process over the fan-out (loop, engine worker and job
together) held 2.4 s of samples in 19 s, 12% of one core: the Go side is not the bound,
the dev server answering the signals on the same 2 cores is. In that profile the apply
goroutines cost as much as the loop's, except that ApplyPage encoded the whole page's
outcomes as heartbeat details after every execution, under the page's lock (quadratic:
a million outcome encodings per page of 1000); it now records them every 250 ms (the
SDK sends them at most once a second anyway, and the request ids make the calls a
crash repeats harmless). What remains is the job's own round trips, about 100-150 ms
per job in its history: the workflow start with the first page, the first task, the
apply activity's dispatch and completion, the last task; and, between pages, the
drain of a page's last calls and the next activity's dispatch. The listing of the next
page now runs while the current one is applied, so it is off that path.
Over 10,000 workflows, runs on the same workflows got slower one after another whichever
side ran (two loop runs at 708 and 597 signals/s, then the engine at 573 and 534), and
the benchmark process's sticky cache (10,000 workflows by default) overflowed once the
engine's job joined the 10,000 targets, so a signal's workflow task could replay its
workflow's history. Both favoured the side that ran first: every run now signals fresh
workflows (terminated after it) and the process keeps a cache of 25,000. A job's history
over 10,000 shows 10-20 ms between pages (the next page listed ahead, then the
activity's dispatch and a workflow task); the rest is ApplyPage's calls, as in the loop.
Over 10,000 the loop and the client engine run twice each (their rows say how many
runs); an earlier version ran them once, and its ratio moved from run to run (0.70× to
0.90×); with three runs each, one run measured 1.05×. Over 1000 the ratio moves too,
mostly with the loop: 851-987 signals/s in one make bench, 1131-1401 in another, while
the engine stayed at 930-1114; the engine's own round trips (the job's start, its
first task, the apply activity's dispatch and completion) weigh more on a job of one
second than on one of ten.

**Decision path (goal 4).** A CPU profile of `event-setup` shows the JSON scan as most of
it (half of the go-feature-flag payload is indentation), then the allocations of the
event's attributes and of the maps a rule reads, and the collector. What changed: the
event data is checked in one pass that records where each value lies, and an object or
list becomes a CEL value only when a rule first reads it, with one buffer for its strings
and one block for its children; the event's attributes and JSON objects share a small
map type whose lookups scan a short slice; the check is one loop with a stack of the
open containers (it was a method per value, with a call to skip whitespace between
every two tokens), and whitespace and plain string bytes are taken eight at a time.
The event's attributes, like its data, are built when a rule first reads them, and
the root object lives in the decoded document's own allocation. That took it from 275
allocations and about 27 µs to 12 allocations (18 when a rule reads an attribute) and
the figures above; counted in instructions (cachegrind, which a busy machine does not
disturb), the one loop took a decode of this payload from 37.9k to 29.5k. What is left
is about 180 tokens' checks and 90 runs of indentation, and three allocations for each
object a rule reads (its fields, its strings, its child objects). The issue's 20.5 µs
was measured on a faster machine than this one (there cel-raw took 344 ns).
Per rule: a rule whose `when` requires an event type is evaluated only for events of
that type (the type index), where its type test is true, so the rule is planned
without it (`true && rest` is rest in CEL, value or error): for the benchmark's rules,
the test was about half of a rule's cost. The rules share the activation and its decoded
maps, and a program without a comprehension runs without cost tracking or a deadline;
like for like (the second per-rule row), a rule costs about what cel-go costs.
With 1000 rules over 100 event types the type index evaluates the 10 of the event's type
and the p99 is far under the goal. With all 1000 of the event's type, every one is
evaluated: the p99 is bounded by that per-rule cost and by the collector. A profile
showed the collector's marking beside the evaluations: each event allocated a 48 KB
buffer of its 1000 evaluations, a collection every few hundred events, each marking for
tens of milliseconds on one of the 2 cores. The daemon now evaluates into pooled
buffers (the benchmark does the same), which took an event's allocations from 48 KB to
7 KB.

**Not done.** Keeping calls in flight across a page boundary (the next page's apply
starting while the current one drains, under one concurrency bound), which matters
only for jobs of several pages. The direct engine is the daemon's: the CLI runs small
jobs on the client engine, as a CLI process that stops mid-job leaves no daemon to
resume it.
BOUNDS
	echo
	echo "## Footprint and scaling"
	echo
	echo "The real \`batchwire run\` binary with its embedded nats-server, N rules over T core NATS triggers, against"
	echo "the dev server (BenchmarkFootprint). None of the rules match, so these are the daemon's own figures."
	echo "The burst is 10,000 events published at once on core NATS: what max_in_flight (64 per trigger) cannot take is"
	echo "dropped and counted, as core NATS is at-most-once (JetStream waits instead)."
	echo
	echo "| rules / triggers | start to ready | idle RSS (growth over 2 s) | of which the mapped executable | idle RSS after 10 scrapes | idle goroutines (growth) | decided events/s | dropped of 10,000 | peak RSS under the burst |"
	echo "|---|---|---|---|---|---|---|---|---|"
	awk '$1 ~ /^BenchmarkFootprint\// {
		split($1, name, "/"); shape = name[2] " / " name[3]; sub(/-[0-9]+$/, "", shape)
		for (i = 2; i <= NF; i++) v[$(i+1)] = $i
		printf "| %s | %s ms | %.1f MiB (%+.1f) | %.1f MiB | %.1f MiB | %d (%+d) | %.0f | %d | %.1f MiB |\n", shape, v["ms-to-ready"], v["idle-rss-MiB"],
			v["idle-rss-growth-MiB"], v["idle-rss-file-MiB"], v["scraped-rss-MiB"], v["idle-goroutines"], v["idle-goroutine-growth"], v["decided-events/s"], v["dropped-events"], v["burst-peak-rss-MiB"]
	}' "$out"
	echo
	cat <<'FOOTPRINT'
What bounds the footprint (goal 5: under 60 MiB idle with 1000 rules). The resident set
has two parts. The mapped executable (the column above) is the pages of the binary the
process has touched, clean and shared with the page cache: package initialisation alone
(the Temporal API's protobuf descriptors, the embedded nats-server, CEL) touches most of
its 20 MiB of code and 25 MiB of read-only data, and the kernel maps the neighbours of
each page touched (fault-around), so it reads 37-41 MiB from run to run whatever the
rules; without the embedded nats-server (an external `nats.url`) it is about 3 MiB less.
The rest is anonymous memory, mostly the Go heap. A heap profile of a daemon with 1000
rules loaded held 8.9 MiB live: the per-rule Prometheus series 5.2 MiB (each
client_golang counter holds its own label pairs, a created timestamp and a collector,
about 520 bytes, and 1000 rules have ten thousand series from the start), the compiled
CEL programs 2.2 MiB (1000 of them the same `{{ data.tenant }}`), the configuration's
line index 0.5 MiB. What changed: the per-rule counters are a small collector of ours
(daemon/counterfamily.go) whose series hold their count and share their label pairs (its
text exposition is tested against client_golang's); a load plans each distinct
expression once and the rules share the program; the line index is a sorted slice.
That took the live heap with 1000 rules from 8.9 to 4.1 MiB, and the idle anonymous
memory from about 28 to 24.5 MiB. Loading allocates about 70 MiB (CEL parsing and
checking, the SQL parser of the query lint, YAML) that is garbage at once; the daemon
returns it to the OS after starting and after each reload (`debug.FreeOSMemory`), but a
span that holds one live object among the garbage stays (after a full collection 9.9 MB
live sat in 16.3 MB of spans). A configuration now loads with the collector at GOGC 25
(set back after the load): collecting more often while loading reuses those slots as it
goes, so what the load keeps is packed into fewer spans, which took the idle anonymous
memory to about 21 MiB for about 50 ms more to start. Each scrape of /metrics allocates
about 3.5 MiB with 1000 rules (client_golang's Gather, about 280 bytes a series, and a
gzip writer), so an idle, scraped daemon's heap grows back to the collector's goal, about
twice the live heap: the growth over 2 s (one more scrape) and the "after 10 scrapes"
column. Tried and not kept: GOGC=50 as the daemon's setting (about 7 MiB less after
scrapes, not made a default without its cost under bursts measured). So the first idle
reading is at about 60 MiB, and a scraped daemon settles above it: the goal is not met
for the settled daemon, and the binary's own mapped pages are over half of its resident
set.
FOOTPRINT
	echo
	echo "## Commands"
	echo
	echo '```'
	cat "$out.cmds"
	echo '```'
	echo
	echo "## Raw output"
	echo
	echo '```'
	cat "$out"
	echo '```'
} >BENCHMARKS.md
rm -f "$out.cmds"
echo "wrote BENCHMARKS.md"
