package main

import (
	"context"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/admit"
	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/rules"
)

// countingFake is a named fake of the daemon's two Temporal calls: it
// answers the count the test asks for and records the engine each launch
// takes, so the daemon's choice can be read without a server.
type countingFake struct {
	count  int64
	engine string
}

func (f *countingFake) Count(context.Context, string, string) (int64, error) { return f.count, nil }

func (f *countingFake) Launch(_ context.Context, _ batch.Job, engine string) (string, error) {
	f.engine = engine
	return batch.OutcomeLaunched, nil
}

const choiceConfig = `
triggers: [{name: t, nats: {subject: s}}]
rules:
  - name: r
    trigger: t
    when: "true"
    query: WorkflowType = 'X' AND ExecutionStatus = 'Running'
    reason: r
`

// For the same operation, engine, count and client rate, `batchwire workflow
// ...` and the daemon run the job on the same engine, each with its own
// defaults (the CLI's --auto-client-max and --server-rps, the daemon's
// launch.auto_client_max and launch.server_rps), uncapped and with the client
// rate capped below the server batcher's (--rps, launch.client_rps).
func TestCLIAndDaemonPickTheSameEngine(t *testing.T) {
	actions := map[string]string{
		"signal":          "    signal: {name: ping}\n",
		"filtered reset":  "    reset: {type: LastWorkflowTask, bad_binary_checksum: b}\n",
		"server-ok reset": "    reset: {type: FirstWorkflowTask}\n",
	}
	for _, rps := range []string{"0", "20"} {
		var flags launchFlags
		fs := pflag.NewFlagSet("launch", pflag.ContinueOnError)
		flags.register(fs)
		require.NoError(t, fs.Parse([]string{"--rps", rps}))
		limits := flags.autoLimits()
		for name, action := range actions {
			for _, engine := range []string{"auto", "client", "server"} {
				rule := "launch: {client_rps: " + rps + "}\n" + choiceConfig + action + "    engine: " + engine + "\n"
				counts := []int64{0, 1, limits.ClientMax, limits.ClientMax + 1}
				samePick(t, rule, name+", rps "+rps, engine, counts, limits)
			}
		}
	}
}

// samePick runs the daemon's admission and the CLI's choice over counts.
func samePick(t *testing.T, ruleConfig, name, engine string, counts []int64, limits batch.AutoLimits) {
	t.Helper()
	cfg, err := config.Parse([]byte(ruleConfig))
	if engine == "server" && strings.HasPrefix(name, "filtered reset") {
		if err == nil {
			_, err = batch.RuleOperation(&cfg.Rules[0])
		}
		require.ErrorContains(t, err, "server cannot run", "refused at load")
		return
	}
	require.NoError(t, err)
	set, err := rules.Compile(cfg.Rules)
	require.NoError(t, err)
	op, err := batch.RuleOperation(&cfg.Rules[0])
	require.NoError(t, err)
	for _, count := range counts {
		fake := &countingFake{count: count}
		p := admit.New(admit.Options{Counter: fake, Starter: fake, Auto: batch.AutoLimitsOf(cfg.Launch)})
		ev := cloudevents.NewEvent()
		ev.SetID("e")
		ev.SetSource("s")
		ev.SetType("t")
		eval := set.Evaluate("t", &ev, time.Now())[0]
		d := p.Run(context.Background(), admit.Input{Eval: eval, Op: op, Now: time.Now()})
		if count == 0 {
			require.Equal(t, admit.NoTargets, d.Result, "the daemon launches nothing for nothing")
			continue
		}
		require.Equal(t, admit.Launched, d.Result, d.Reason)

		plan := launchPlan{engine: engine, job: batch.Job{Op: op}}
		require.NoError(t, plan.chooseEngine(count, limits))
		require.Equal(t, fake.engine, plan.engineName(), "%s, engine %s, count %d", name, engine, count)
	}
}
