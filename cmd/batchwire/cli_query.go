package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/api/serviceerror"

	"github.com/batchwire/batchwire/rules"
)

// checkLaunchQuery rejects, before any RPC, what the count preflight cannot
// catch: the server batcher appends its own clause to the query, so a comment
// or `;` that counts fine would break that clause, and the job would retry
// forever holding the namespace's only batch slot. The check is the rules'
// own, on the server's tokenizer.
func checkLaunchQuery(query string) error {
	if strings.TrimSpace(query) == "" {
		return usageError{errors.New("--query is required: a batch operation without one would target every execution")}
	}
	if err := rules.RejectComments(query); err != nil {
		return usageError{fmt.Errorf("--query: %w", err)}
	}
	return nil
}

// queryError turns the server's rejection of a query into a usage error that
// shows the server's own message.
func queryError(err error) error {
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) {
		return usageError{fmt.Errorf("the server rejected the query: %s: %w", invalid.Message, err)}
	}
	return err
}

// readIDFile reads workflow ids, one per line; blank lines and lines starting
// with # are skipped, so a file can carry notes on why ids are listed.
func readIDFile(flag, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("--%s: %w", flag, err)}
	}
	defer func() { _ = f.Close() }()
	var ids []string
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			ids = append(ids, line)
		}
	}
	if err := lines.Err(); err != nil {
		return nil, usageError{fmt.Errorf("--%s: read %s: %w", flag, path, err)}
	}
	if len(ids) == 0 {
		return nil, usageError{fmt.Errorf("--%s: %s lists no workflow ids", flag, path)}
	}
	return ids, nil
}
