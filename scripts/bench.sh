#!/usr/bin/env bash
# Runs batchwire's benchmarks and writes BENCHMARKS.md: the machine, the
# commands, the raw figures, and the comparisons as ratios from this same run.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN="$(scripts/temporal.sh)"
export TEMPORAL_BIN
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

run() {
	echo "\$ $*" >>"$out.cmds"
	"$@" 2>&1 | grep -E '^(Benchmark|goos|goarch|cpu|pkg)' | tee -a "$out"
}
: >"$out.cmds"
run go test -run '^$' -bench . -benchmem -count 3 ./rules/
run go test -run '^$' -bench . -benchtime 20x ./batch/
run go test -run '^$' -bench Burst20 -benchtime 3x ./daemon/
run go test -run '^$' -bench Footprint -benchtime 1x ./daemon/

# mean ns/op of the first benchmark line matching $1
mean() { awk -v pat="$1" '$1 ~ pat { for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") { s += $i; n++ } } END { if (n) printf "%.0f", s / n }' "$out"; }
metric() { awk -v pat="$1" -v unit="$2" '$1 ~ pat { for (i = 2; i <= NF; i++) if ($(i+1) == unit) { s += $i; n++ } } END { if (n) printf "%.1f", s / n }' "$out"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1f×", a / b; else print "n/a" }'; }

match1="$(mean 'BenchmarkMatch/rules=1-')"
match1000="$(mean 'BenchmarkMatch/rules=1000-')"
render1="$(mean 'BenchmarkRender/rules=1-')"
render1000="$(mean 'BenchmarkRender/rules=1000-')"
setup="$(mean 'BenchmarkDecisionPath/event-setup')"
perrule1000="$(mean 'BenchmarkDecisionPath/per-rule/rules=1000')"
perrule="$(awk -v a="$perrule1000" 'BEGIN { if (a > 0) printf "%.0f", a / 1000 }')"
celraw="$(mean 'BenchmarkDecisionPath/cel-raw')"
index1="$(mean 'BenchmarkTypeIndex/types=1-')"
index100="$(mean 'BenchmarkTypeIndex/types=100-')"
server="$(mean 'BenchmarkSignalFiveWorkflows/server-batcher')"
plain="$(mean 'BenchmarkSignalFiveWorkflows/plain-signal-loop')"
client="$(mean 'BenchmarkSignalFiveWorkflows/client-engine')"
script_lost="$(metric 'BenchmarkBurst20/script' 'lost-events/op')"
bw_lost="$(metric 'BenchmarkBurst20/batchwire-server' 'lost-events/op')"
auto_lost="$(metric 'BenchmarkBurst20/batchwire-auto' 'lost-events/op')"
script_ns="$(mean 'BenchmarkBurst20/script')"
bw_ns="$(mean 'BenchmarkBurst20/batchwire-server')"
auto_ns="$(mean 'BenchmarkBurst20/batchwire-auto')"

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
	echo "| one non-matching rule inside Evaluate vs raw cel-go evaluating the same expression (goal: at most 1.5×) | ${perrule} ns vs ${celraw} ns | $(ratio "$perrule" "$celraw") |"
	echo "| one-time cost per event: attributes and decoding the go-feature-flag payload (goal: under 5000 ns) | ${setup} ns vs 5000 ns | $(ratio "$setup" 5000) |"
	echo "| 1000 rules reading event.type, over 1 type vs over 100 types (the type index evaluates 10 of them) | ${index1} ns vs ${index100} ns per event | $(ratio "$index1" "$index100") |"
	echo "| rendering, 1000 rules vs 1 rule | ${render1000} ns vs ${render1} ns per event | $(ratio "$render1000" "$render1") |"
	echo "| 5-workflow signal job: server batcher vs plain SignalWorkflow loop | ${server} ns vs ${plain} ns | $(ratio "$server" "$plain") slower |"
	if [[ -n "$client" ]]; then
		echo "| 5-workflow signal job: server batcher vs client engine | ${server} ns vs ${client} ns | $(ratio "$server" "$client") |"
	fi
	echo "| 20-event burst: events lost, script (\`temporal workflow signal --query\` per event) vs batchwire server vs batchwire auto | ${script_lost} vs ${bw_lost} vs ${auto_lost} of 20 | |"
	echo "| 20-event burst: wall time, batchwire engine server vs script | ${bw_ns} ns vs ${script_ns} ns | $(ratio "$bw_ns" "$script_ns") |"
	echo "| 20-event burst: wall time, batchwire engine server vs engine auto (client engine, no namespace slot) | ${bw_ns} ns vs ${auto_ns} ns | $(ratio "$bw_ns" "$auto_ns") |"
	echo
	echo "## Footprint and scaling"
	echo
	echo "The real \`batchwire run\` binary with its embedded nats-server, N rules over T core NATS triggers, against"
	echo "the dev server (BenchmarkFootprint). None of the rules match, so these are the daemon's own figures."
	echo "The burst is 10,000 events published at once on core NATS: what max_in_flight (64 per trigger) cannot take is"
	echo "dropped and counted, as core NATS is at-most-once (JetStream waits instead)."
	echo
	echo "| rules / triggers | start to ready | idle RSS (growth over 2 s) | idle goroutines (growth) | decided events/s | dropped of 10,000 | peak RSS under the burst |"
	echo "|---|---|---|---|---|---|---|"
	awk '$1 ~ /^BenchmarkFootprint\// {
		split($1, name, "/"); shape = name[2] " / " name[3]; sub(/-[0-9]+$/, "", shape)
		for (i = 2; i <= NF; i++) v[$(i+1)] = $i
		printf "| %s | %s ms | %.1f MiB (%+.1f) | %d (%+d) | %.0f | %d | %.1f MiB |\n", shape, v["ms-to-ready"], v["idle-rss-MiB"],
			v["idle-rss-growth-MiB"], v["idle-goroutines"], v["idle-goroutine-growth"], v["decided-events/s"], v["dropped-events"], v["burst-peak-rss-MiB"]
	}' "$out"
	echo
	echo "The script is fast because most of its events fail at once with"
	echo "\"Max concurrent batch operations is reached\"; batchwire queues them per namespace"
	echo "and applies every one."
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
