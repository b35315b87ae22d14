package batch_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
)

func reset(opts batch.ResetOptions) batch.Operation { return batch.Reset(opts) }

func TestOperationValidate(t *testing.T) {
	tests := []struct {
		name string
		op   batch.Operation
		want string // "" means valid
	}{
		{"signal", batch.Signal("s", []byte(`{"a":1}`)), ""},
		{"signal without input", batch.Signal("s", nil), ""},
		{"signal without name", batch.Signal(" ", nil), "signal.name: required"},
		{"signal input not JSON", batch.Signal("s", []byte("{")), "signal.input: not valid JSON"},
		{"terminate", batch.Terminate(), ""},
		{"cancel", batch.Cancel(), ""},
		{"delete", batch.Delete(), ""},
		{"unknown kind", batch.Operation{Kind: "pause"}, `kind: want one of signal, terminate, cancel, delete, reset, update_options, pause_activities, unpause_activities, reset_activities, update_activity_options, got "pause"`},
		{"reset options on terminate", batch.Operation{Kind: batch.KindTerminate, Reset: &batch.ResetOptions{}}, "reset: only for a reset operation"},
		{"reset without options", batch.Operation{Kind: batch.KindReset}, "reset.type: required"},
		{"unknown reset type", reset(batch.ResetOptions{Type: "Sideways"}), `reset.type: want one of`},
		{"every reset type", reset(batch.ResetOptions{Type: batch.ResetLastContinuedAsNew}), ""},
		{"BuildId without build id", reset(batch.ResetOptions{Type: batch.ResetBuildID}), "reset.build_id: required for type BuildId"},
		{"build id beside another type", reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, BuildID: "b"}),
			"reset.build_id: only for type BuildId"},
		{"BadBinary without checksum", reset(batch.ResetOptions{Type: batch.ResetBadBinary}),
			"reset.bad_binary_checksum: required for type BadBinary"},
		{"bad binary filter beside any type", reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, BadBinaryChecksum: "x"}), ""},
		{"unknown reapply exclude", reset(batch.ResetOptions{Type: batch.ResetLastWorkflowTask, ExcludeReapply: []string{"timer"}}),
			`reset.exclude_reapply[0]: unknown "timer"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			var fe *batch.FieldError
			require.ErrorAs(t, err, &fe, "every validation error names its field")
		})
	}
}

// The server batcher runs FirstWorkflowTask, LastWorkflowTask and BuildId
// resets without filters; anything else needs the client engine.
func TestClientOnly(t *testing.T) {
	tests := []struct {
		op   batch.Operation
		want []string
	}{
		{batch.Signal("s", nil), nil},
		{reset(batch.ResetOptions{Type: batch.ResetBuildID, BuildID: "b"}), nil},
		{reset(batch.ResetOptions{Type: batch.ResetBadBinary, BadBinaryChecksum: "b"}), []string{"reset type BadBinary"}},
		{reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, BadBinaryChecksum: "b"}), []string{"reset.bad_binary_checksum"}},
		{reset(batch.ResetOptions{Type: batch.ResetLastContinuedAsNew, OnlyNonDeterministic: true}),
			[]string{"reset type LastContinuedAsNew", "reset.only_non_deterministic"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.op.ClientOnly(), tt.op.String())
	}
}

func TestChooseEngine(t *testing.T) {
	signal := batch.Signal("s", nil)
	clientOnly := reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, OnlyNonDeterministic: true})
	defaults := batch.AutoLimits{ClientMax: batch.DefaultAutoClientMax, ServerRPS: batch.DefaultServerRPS}
	capped := func(clientRPS float64) batch.AutoLimits {
		l := defaults
		l.ClientRPS = clientRPS
		return l
	}
	smallMax := batch.AutoLimits{ClientMax: 100, ServerRPS: batch.DefaultServerRPS}
	tests := []struct {
		name      string
		requested string
		op        batch.Operation
		count     int64
		limits    batch.AutoLimits
		want      string
		err       string
	}{
		{"auto, small job", batch.EngineAuto, signal, 5, defaults, batch.EngineClient, ""},
		{"auto, nothing selected", batch.EngineAuto, signal, 0, defaults, batch.EngineClient, ""},
		{"auto, 10,000 uncapped: client, faster than the batcher", batch.EngineAuto, signal, 10_000, defaults, batch.EngineClient, ""},
		{"auto, at the client maximum", batch.EngineAuto, signal, batch.DefaultAutoClientMax, defaults, batch.EngineClient, ""},
		{"auto, over the client maximum", batch.EngineAuto, signal, batch.DefaultAutoClientMax + 1, defaults, batch.EngineServer, ""},
		{"auto, over a small client maximum", batch.EngineAuto, signal, 101, smallMax, batch.EngineServer, ""},
		{"auto, client capped above the batcher", batch.EngineAuto, signal, 10_000, capped(51), batch.EngineClient, ""},
		{"auto, client capped at the batcher's rate", batch.EngineAuto, signal, 10_000, capped(50), batch.EngineServer, ""},
		{"auto, client capped below the batcher", batch.EngineAuto, signal, 3, capped(10), batch.EngineServer, ""},
		{"auto, a faster batcher", batch.EngineAuto, signal, 10_000,
			batch.AutoLimits{ClientMax: batch.DefaultAutoClientMax, ClientRPS: 200, ServerRPS: 500}, batch.EngineServer, ""},
		{"auto, what the server lacks, over the maximum", batch.EngineAuto, clientOnly, 5000, smallMax, batch.EngineClient, ""},
		{"auto, what the server lacks, client capped", batch.EngineAuto, clientOnly, 5000, capped(1), batch.EngineClient, ""},
		{"server as asked", batch.EngineServer, signal, 1, defaults, batch.EngineServer, ""},
		{"client as asked", batch.EngineClient, signal, 5000, capped(1), batch.EngineClient, ""},
		{"server cannot", batch.EngineServer, clientOnly, 1, defaults, "", "engine: server cannot run reset.only_non_deterministic"},
		{"unknown engine", "cloud", signal, 1, defaults, "", `engine: want server, client or auto, got "cloud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := batch.ChooseEngine(tt.requested, tt.op, tt.count, tt.limits)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// The daemon's limits are its launch settings, defaults applied.
func TestAutoLimitsOf(t *testing.T) {
	cfg, err := config.Parse([]byte("launch: {client_rps: 20}\n"))
	require.NoError(t, err)
	require.Equal(t, batch.AutoLimits{ClientMax: batch.DefaultAutoClientMax, ClientRPS: 20, ServerRPS: batch.DefaultServerRPS},
		batch.AutoLimitsOf(cfg.Launch))
}

func TestRuleOperation(t *testing.T) {
	rule := config.Rule{Engine: "auto", Reset: &config.ResetAction{Type: batch.ResetFirstWorkflowTask,
		BadBinaryChecksum: "build-bad", ExcludeReapply: []string{"signal"}}}
	op, err := batch.RuleOperation(&rule)
	require.NoError(t, err)
	require.Equal(t, reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, BadBinaryChecksum: "build-bad",
		ExcludeReapply: []string{"signal"}}), op)
	require.Equal(t, "reset FirstWorkflowTask bad_binary_checksum=build-bad exclude_reapply=signal", op.String())

	rule.Engine = "server"
	_, err = batch.RuleOperation(&rule)
	require.ErrorContains(t, err, "engine: server cannot run reset.bad_binary_checksum")

	signal := config.Rule{Signal: &config.SignalAction{Name: "flag_changed"}}
	op, err = batch.RuleOperation(&signal)
	require.NoError(t, err)
	rendered := op.WithSignalInput([]byte(`{"v":1}`))
	require.JSONEq(t, `{"v":1}`, string(rendered.Signal.Input))
	require.Nil(t, op.Signal.Input, "the compiled operation is not changed by a render")
}

// The client engine's workflow carries the operation as JSON: it must come
// back the same.
func TestOperationJSONRoundTrip(t *testing.T) {
	for _, op := range []batch.Operation{
		batch.Signal("s", []byte(`{"a":[1,2]}`)), batch.Terminate(),
		reset(batch.ResetOptions{Type: batch.ResetBadBinary, BadBinaryChecksum: "x", OnlyNonDeterministic: true,
			ExcludeReapply: []string{"signal", "update"}}),
	} {
		raw, err := json.Marshal(op)
		require.NoError(t, err)
		var back batch.Operation
		require.NoError(t, json.Unmarshal(raw, &back))
		require.Equal(t, op, back)
	}
}
