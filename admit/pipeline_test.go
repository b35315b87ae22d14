package admit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/rules"
)

// fakeTemporal is a named fake of the two calls the pipeline makes: the
// stages' logic is pure, and the dev-server tests in daemon/ cover the real
// calls end to end. The tests call it from one goroutine.
type fakeTemporal struct {
	count    int64
	countErr error
	startErr error
	outcome  string
	counted  int
	launched []string // "engine job-id"
}

func (f *fakeTemporal) Count(context.Context, string, string) (int64, error) {
	f.counted++
	return f.count, f.countErr
}

func (f *fakeTemporal) Launch(_ context.Context, job batch.Job, engine string) (string, error) {
	if f.startErr != nil {
		return "", f.startErr
	}
	f.launched = append(f.launched, engine+" "+job.ID)
	if f.outcome != "" {
		return f.outcome, nil
	}
	return batch.OutcomeLaunched, nil
}

// rule compiles one rule on trigger "t" that matches events whose data.tenant
// is set, and signals that tenant's workflows.
// testLimits give engine auto a small client maximum, so a count of 5000 is
// the server batcher's.
var testLimits = batch.AutoLimits{ClientMax: 100, ServerRPS: batch.DefaultServerRPS}

func rule(t *testing.T, guards config.Guards, engine string) (*rules.Set, batch.Operation) {
	t.Helper()
	cfg := config.Rule{Name: "r", Trigger: "t", Namespace: "ns", Engine: engine, Guards: guards,
		When:   `has(data.tenant)`,
		Query:  `WorkflowId STARTS_WITH {{ data.tenant }} AND ExecutionStatus = "Running"`,
		Reason: `tenant {{ data.tenant }}`,
		Signal: &config.SignalAction{Name: "poke", Input: map[string]any{"tenant": "{{ data.tenant }}"}}}
	set, err := rules.Compile([]config.Rule{cfg})
	require.NoError(t, err)
	op, err := batch.RuleOperation(&cfg)
	require.NoError(t, err)
	return set, op
}

func event(t *testing.T, id string, data any) *cloudevents.Event {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource("test")
	ev.SetType("test.event")
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, data))
	return &ev
}

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func run(t *testing.T, p *Pipeline, set *rules.Set, op batch.Operation, ev *cloudevents.Event, paused bool, at time.Time) Decision {
	t.Helper()
	evals := set.Evaluate("t", ev, at)
	require.Len(t, evals, 1)
	return p.Run(context.Background(), Input{Eval: evals[0], Op: op, Paused: paused, Now: at})
}

func TestPipelineStages(t *testing.T) {
	tenant := map[string]string{"tenant": "acme"}
	tests := []struct {
		name    string
		guards  config.Guards
		engine  string
		fake    fakeTemporal
		data    any
		paused  bool
		result  string
		stage   string
		guard   string
		reason  string
		counted bool
		launch  string // the launch the fake saw, "" for none
	}{
		{name: "not matched", data: map[string]string{}, result: NotMatched, stage: StageMatch},
		{name: "render error", data: map[string]any{"tenant": map[string]int{"a": 1}}, result: Error, stage: StageMatch,
			reason: "render query"},
		{name: "rendered query refused", data: map[string]string{"tenant": ""}, result: Error, stage: StageLint,
			reason: "rendered query refused"},
		{name: "paused", data: tenant, paused: true, result: Blocked, stage: GuardPaused, guard: GuardPaused},
		{name: "count fails", data: tenant, fake: fakeTemporal{countErr: errors.New("boom")}, result: Error,
			stage: StageCount, reason: "preflight: boom"},
		{name: "over max_workflows", data: tenant, guards: config.Guards{MaxWorkflows: 2}, fake: fakeTemporal{count: 3},
			result: Blocked, stage: GuardMax, guard: GuardMax, counted: true, reason: "selects 3 workflows, more than max_workflows 2"},
		{name: "no targets", data: tenant, fake: fakeTemporal{count: 0},
			result: NoTargets, stage: StageCount, counted: true, reason: "selects no workflows"},
		{name: "dry run", data: tenant, guards: config.Guards{DryRun: true}, fake: fakeTemporal{count: 3},
			result: DryRun, stage: GuardDryRun, counted: true},
		{name: "auto, small: client", data: tenant, engine: "auto", fake: fakeTemporal{count: 3},
			result: Launched, stage: StageLaunch, counted: true, launch: "client"},
		{name: "auto, over the client maximum: server", data: tenant, engine: "auto", fake: fakeTemporal{count: 5000},
			result: Launched, stage: StageLaunch, counted: true, launch: "server"},
		{name: "duplicate", data: tenant, engine: "server", fake: fakeTemporal{count: 3, outcome: batch.OutcomeDuplicate},
			result: Duplicate, stage: StageLaunch, counted: true, launch: "server", reason: "runs; following it"},
		{name: "duplicate of an ended job", data: tenant, engine: "server", fake: fakeTemporal{count: 3, outcome: batch.OutcomeDuplicateEnded},
			result: Duplicate, stage: StageLaunch, counted: true, launch: "server", reason: "has ended"},
		{name: "job id taken", data: tenant, fake: fakeTemporal{count: 3, startErr: fmt.Errorf("start: %w", batch.ErrJobIDTaken)},
			result: Error, stage: StageLaunch, counted: true, reason: "job id taken by a different job"},
		{name: "launch fails", data: tenant, fake: fakeTemporal{count: 3, startErr: errors.New("refused")},
			result: Error, stage: StageLaunch, counted: true, reason: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, op := rule(t, tt.guards, tt.engine)
			fake := &tt.fake
			p := New(Options{Counter: fake, Starter: fake, Auto: testLimits})
			d := run(t, p, set, op, event(t, "e1", tt.data), tt.paused, now)
			require.Equal(t, tt.result, d.Result, "reason: %s", d.Reason)
			require.Equal(t, tt.stage, d.Stage)
			require.Equal(t, tt.guard, d.Guard)
			require.Contains(t, d.Reason, tt.reason)
			require.Equal(t, tt.counted, d.Counted)
			require.Equal(t, tt.counted || tt.result == Error && tt.stage == StageCount, fake.counted == 1,
				"the count runs once, and only past the I/O-free stages")
			if tt.launch == "" {
				require.Empty(t, fake.launched)
				return
			}
			require.Equal(t, []string{tt.launch + " " + d.Action.JobID}, fake.launched)
			require.Equal(t, tt.launch, d.Engine)
			require.JSONEq(t, `{"tenant":"acme"}`, string(d.Job.Op.Signal.Input), "the signal input rendered for the event")
		})
	}
}

// A second event with the same query inside the window is blocked; the
// event that opened the window passes again (a redelivery finds its job); a
// failed launch releases the window; after the window, the next one passes.
func TestCooldown(t *testing.T) {
	set, op := rule(t, config.Guards{Cooldown: config.Duration(10 * time.Minute)}, "")
	fake := &fakeTemporal{count: 1}
	p := New(Options{Counter: fake, Starter: fake, Auto: testLimits})
	tenant := map[string]string{"tenant": "acme"}

	require.Equal(t, Launched, run(t, p, set, op, event(t, "a", tenant), false, now).Result)
	d := run(t, p, set, op, event(t, "b", tenant), false, now.Add(time.Minute))
	require.Equal(t, Blocked, d.Result)
	require.Equal(t, GuardCooldown, d.Guard)
	require.Equal(t, Launched, run(t, p, set, op, event(t, "a", tenant), false, now.Add(time.Minute)).Result,
		"a redelivery of the event that opened the window")
	other := map[string]string{"tenant": "other"}
	require.Equal(t, Launched, run(t, p, set, op, event(t, "c", other), false, now.Add(time.Minute)).Result,
		"another query has its own window")
	require.Equal(t, Launched, run(t, p, set, op, event(t, "d", tenant), false, now.Add(11*time.Minute)).Result)

	fake.startErr = errors.New("down")
	require.Equal(t, Error, run(t, p, set, op, event(t, "e", other), false, now.Add(30*time.Minute)).Result)
	fake.startErr = nil
	require.Equal(t, Launched, run(t, p, set, op, event(t, "f", other), false, now.Add(30*time.Minute)).Result,
		"the failed launch released its window")
}

// The cooldown key is the selection, not the spelling: an IN list in another
// order, another quoting or spacing, or a query rendered at another time is
// the same selection; windows that expired are forgotten.
func TestCooldownKeyIsTheSelection(t *testing.T) {
	cfg := config.Rule{Name: "r", Trigger: "t", Namespace: "ns", Terminate: &config.EmptyAction{},
		Guards: config.Guards{Cooldown: config.Duration(10 * time.Minute)},
		When:   `true`,
		Query: `ExecutionStatus = 'Running' AND WorkflowId IN {{ data.ids }} AND Tenant = {{ data.tenant }}` +
			` AND StartTime > {{ now() - duration("1h") }}`,
		Reason: `event {{ event.id }}`}
	set, err := rules.Compile([]config.Rule{cfg})
	require.NoError(t, err)
	op, err := batch.RuleOperation(&cfg)
	require.NoError(t, err)
	fake := &fakeTemporal{count: 1}
	p := New(Options{Counter: fake, Starter: fake, Auto: testLimits})
	data := func(tenant string, ids ...string) map[string]any { return map[string]any{"tenant": tenant, "ids": ids} }

	require.Equal(t, Launched, run(t, p, set, op, event(t, "a", data("acme", "w1", "w2")), false, now).Result)
	for i, same := range []map[string]any{data("acme", "w2", "w1"), data("acme", "w1", "w2", "w1")} {
		d := run(t, p, set, op, event(t, fmt.Sprint("same-", i), same), false, now.Add(time.Duration(i+1)*time.Second))
		require.Equal(t, Blocked, d.Result, "%v", same)
	}
	require.Equal(t, Launched, run(t, p, set, op, event(t, "b", data("acme", "w1", "w3")), false, now.Add(time.Minute)).Result,
		"another selection")
	require.Equal(t, 2, p.CooldownWindows())
	require.Equal(t, Launched, run(t, p, set, op, event(t, "c", data("other", "w1")), false, now.Add(20*time.Minute)).Result)
	require.Equal(t, 1, p.CooldownWindows(), "the expired windows were pruned")
}

// Over the rate, a launch is delayed, and the event must come back.
func TestRateDelays(t *testing.T) {
	set, op := rule(t, config.Guards{Rate: &config.Rate{Launches: 2, Per: config.Duration(time.Minute)}}, "")
	fake := &fakeTemporal{count: 1}
	p := New(Options{Counter: fake, Starter: fake, Auto: testLimits})
	for i := range 2 {
		d := run(t, p, set, op, event(t, fmt.Sprint(i), map[string]string{"tenant": "acme"}), false, now)
		require.Equal(t, Launched, d.Result)
	}
	d := run(t, p, set, op, event(t, "3", map[string]string{"tenant": "acme"}), false, now)
	require.Equal(t, Delayed, d.Result)
	require.Equal(t, GuardRate, d.Guard)
	require.InDelta(t, 30*time.Second, d.RetryAfter, float64(time.Second))
	require.True(t, d.Retry())
	require.Len(t, fake.launched, 2)
}

// Temporal away past the retry budget, or a shutdown: the event comes back.
func TestRetryOnUnavailable(t *testing.T) {
	set, op := rule(t, config.Guards{}, "")
	fake := &fakeTemporal{countErr: fmt.Errorf("count: %w", batch.ErrUnavailable)}
	p := New(Options{Counter: fake, Starter: fake, Auto: testLimits})
	d := run(t, p, set, op, event(t, "x", map[string]string{"tenant": "acme"}), false, now)
	require.Equal(t, Error, d.Result)
	require.True(t, d.Retry())
}

// fakeSelector adds the direct engine's preflight listing to fakeTemporal: a
// listing of listed executions, complete when there are at most limit.
type fakeSelector struct {
	fakeTemporal
	listed   int
	selected int
}

func (f *fakeSelector) Select(_ context.Context, _ batch.Job, limit int64) ([]batch.Execution, bool, error) {
	f.selected++
	if int64(f.listed) > limit {
		return nil, false, nil
	}
	execs := make([]batch.Execution, f.listed)
	for i := range execs {
		execs[i] = batch.Execution{WorkflowID: fmt.Sprintf("w%d", i), RunID: "r"}
	}
	return execs, true, nil
}

// A direct candidate is listed instead of counted when its selection fits
// launch.direct_max: one visibility call, whose listing rides on the job to
// the direct engine. A larger selection is counted and goes to the client
// engine; engine server is never listed; a direct engine off (0) lists nothing.
func TestDirectPreflightListsInsteadOfCounting(t *testing.T) {
	ev := event(t, "e1", map[string]string{"tenant": "acme"})
	cases := []struct {
		name                     string
		engine                   string
		directMax                int64
		listed                   int
		wantEngine               string
		wantSelected, wantCounts int
		wantListed               int
	}{
		{"small", "auto", 10, 5, batch.EngineDirect, 1, 0, 5},
		{"larger than direct_max", "auto", 10, 11, batch.EngineClient, 1, 1, 0},
		{"engine server", "server", 10, 5, batch.EngineServer, 0, 1, 0},
		{"engine client", "client", 10, 5, batch.EngineClient, 0, 1, 0},
		{"direct off", "auto", 0, 5, batch.EngineClient, 0, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, op := rule(t, config.Guards{MaxWorkflows: 50}, tc.engine)
			fake := &fakeSelector{fakeTemporal: fakeTemporal{count: int64(tc.listed)}, listed: tc.listed}
			var job batch.Job
			starter := starterFunc(func(j batch.Job, engine string) (string, error) {
				job = j
				return fake.Launch(context.Background(), j, engine)
			})
			p := New(Options{Counter: fake, Starter: starter, Auto: testLimits, DirectMax: tc.directMax})
			d := run(t, p, set, op, ev, false, now)
			require.Equal(t, Launched, d.Result, d.Reason)
			require.Equal(t, tc.wantEngine, d.Engine)
			require.Equal(t, int64(tc.listed), d.Count)
			require.Equal(t, []int{tc.wantSelected, tc.wantCounts}, []int{fake.selected, fake.counted}, "selects, counts")
			require.Len(t, job.Listed, tc.wantListed)
		})
	}
}

// starterFunc is a Starter from a function.
type starterFunc func(batch.Job, string) (string, error)

func (f starterFunc) Launch(_ context.Context, job batch.Job, engine string) (string, error) {
	return f(job, engine)
}
