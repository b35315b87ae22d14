package rules_test

import (
	"flag"
	"os"
	"testing"

	"github.com/batchwire/batchwire/internal/testenv"
)

// temporalHostPort is the dev server the server tests of this package share.
var temporalHostPort string

// injectionNamespace holds only the injection corpus's workflows, so counts
// in it are exact.
const injectionNamespace = "rules-injection"

func TestMain(m *testing.M) {
	flag.Parse()
	// A fuzz worker re-runs this binary only to execute fuzz inputs: a dev
	// server per worker would slow it down and outlive its shutdown deadline.
	if worker := flag.Lookup("test.fuzzworker"); worker != nil && worker.Value.String() == "true" {
		os.Exit(m.Run())
	}
	os.Exit(testenv.RunWithTemporal(m, &temporalHostPort, injectionNamespace))
}
