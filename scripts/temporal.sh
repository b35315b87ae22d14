#!/usr/bin/env bash
# Prints the path of a usable temporal CLI, and only that, on stdout:
#   1. $TEMPORAL_BIN if set,
#   2. `temporal` on PATH if `temporal --version` works,
#   3. <repo>/.bin/temporal, built there with `go install` the first time.
# Scripts and tests call it as: TEMPORAL="$(scripts/temporal.sh)".
set -euo pipefail

readonly version="v1.5.1"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -n "${TEMPORAL_BIN:-}" ]]; then
	if [[ ! -x "${TEMPORAL_BIN}" ]]; then
		echo "temporal.sh: TEMPORAL_BIN=${TEMPORAL_BIN} is not an executable file" >&2
		exit 1
	fi
	echo "${TEMPORAL_BIN}"
	exit 0
fi

if on_path="$(command -v temporal 2>/dev/null)" && "${on_path}" --version >/dev/null 2>&1; then
	echo "${on_path}"
	exit 0
fi

local_bin="${repo}/.bin/temporal"
if [[ ! -x "${local_bin}" ]]; then
	echo "building temporal CLI ${version} into .bin/ (about 3 minutes the first time)" >&2
	# go install's own progress goes to stderr too, so stdout stays the path alone.
	GOBIN="${repo}/.bin" go install "github.com/temporalio/cli/cmd/temporal@${version}" >&2
	if [[ ! -x "${local_bin}" ]]; then
		echo "temporal.sh: go install succeeded but ${local_bin} is missing" >&2
		exit 1
	fi
fi
echo "${local_bin}"
