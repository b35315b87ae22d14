#!/usr/bin/env bash
# Prints the path of a usable promtool, and only that, on stdout:
#   1. $PROMTOOL_BIN if set,
#   2. <repo>/.bin/promtool, built there with `go install` the first time
#      (Prometheus v3.16.0, whose Go module version is v0.316.0).
# A promtool on PATH is not used: the alert tests pin the version that
# evaluates them. make test calls it as: "$(scripts/promtool.sh)" test rules ...
set -euo pipefail

readonly version="v0.316.0"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -n "${PROMTOOL_BIN:-}" ]]; then
	if [[ ! -x "${PROMTOOL_BIN}" ]]; then
		echo "promtool.sh: PROMTOOL_BIN=${PROMTOOL_BIN} is not an executable file" >&2
		exit 1
	fi
	echo "${PROMTOOL_BIN}"
	exit 0
fi

local_bin="${repo}/.bin/promtool"
if [[ ! -x "${local_bin}" ]]; then
	echo "building promtool ${version} into .bin/ (5 to 15 minutes the first time: it downloads and compiles Prometheus)" >&2
	GOBIN="${repo}/.bin" go install "github.com/prometheus/prometheus/cmd/promtool@${version}" >&2
	if [[ ! -x "${local_bin}" ]]; then
		echo "promtool.sh: go install succeeded but ${local_bin} is missing" >&2
		exit 1
	fi
fi
echo "${local_bin}"
