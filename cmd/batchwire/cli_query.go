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

// checkLaunchQuery lints the query exactly as the daemon's admission lint
// stage does before it launches (rules.LintQuery, on the server's parser):
// besides what the count preflight cannot catch (a comment or `;` that counts
// fine but breaks the clause the server batcher appends, so the job retries
// forever holding the namespace's only batch slot), it refuses queries with
// no scope. allowUnscoped (--allow-unscoped) lets through only a query whose
// one problem is its missing scope. It returns the lint's warnings.
func checkLaunchQuery(query string, allowUnscoped bool) ([]string, error) {
	if strings.TrimSpace(query) == "" {
		return nil, usageError{errors.New("--query is required: a batch operation without one would target every execution")}
	}
	warnings, err := rules.LintQuery(query)
	if err == nil || (allowUnscoped && errors.Is(err, rules.ErrUnscoped)) {
		return warnings, nil
	}
	if errors.Is(err, rules.ErrUnscoped) {
		return nil, usageError{fmt.Errorf("--query: %w; pass --allow-unscoped if that is what you mean", err)}
	}
	return nil, usageError{fmt.Errorf("--query: %w", err)}
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
