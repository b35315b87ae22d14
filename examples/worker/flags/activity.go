package flags

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
)

// SyncRequest is the snapshot SyncFlags pushes. Applied identifies the snapshot, so a
// flag store can drop a push older than one it already has.
type SyncRequest struct {
	Tenant  string         `json:"tenant"`
	Flags   map[string]any `json:"flags"`
	Applied int            `json:"applied"`
}

// SyncResult says how many flags this attempt pushed; a retry that resumed from a
// heartbeat pushes fewer than len(Flags).
type SyncResult struct {
	Pushed int `json:"pushed"`
}

// pushDelay stands in for the round trip to a flag store; without it the example
// would finish before a heartbeat or a cancellation could be observed.
var pushDelay = 10 * time.Millisecond

func activityOptions() activity.RegisterOptions {
	return activity.RegisterOptions{Name: ActivityName}
}

// SyncFlags pushes every flag of the snapshot, heartbeating after each one. The
// heartbeat detail is the count already pushed, so a retry (after a worker crash or a
// heartbeat timeout) skips them instead of pushing the whole set again.
func SyncFlags(ctx context.Context, req SyncRequest) (SyncResult, error) {
	start := 0
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &start); err != nil {
			start = 0 // unreadable progress: pushing again is safe, pushes are idempotent
		}
	}
	heartbeat := func(done int) { activity.RecordHeartbeat(ctx, done) }
	pushed, err := pushAll(ctx, req, start, heartbeat)
	if err != nil {
		return SyncResult{Pushed: pushed}, fmt.Errorf("sync flags of tenant %q: %w", req.Tenant, err)
	}
	activity.GetLogger(ctx).Info("flags synced", "tenant", req.Tenant, "applied", req.Applied, "pushed", pushed)
	return SyncResult{Pushed: pushed}, nil
}

// pushAll pushes flags in name order from index start on, so progress counts mean the
// same thing on every attempt. It stops at the first cancellation: the server delivers
// a cancel (workflow cancelled, worker stopping) only through ctx.
func pushAll(ctx context.Context, req SyncRequest, start int, heartbeat func(done int)) (int, error) {
	names := slices.Sorted(maps.Keys(req.Flags))
	pushed := 0
	for i := start; i < len(names); i++ {
		if err := pushFlag(ctx, req.Tenant, names[i], req.Flags[names[i]]); err != nil {
			return pushed, fmt.Errorf("push flag %q: %w", names[i], err)
		}
		pushed++
		heartbeat(i + 1)
	}
	return pushed, nil
}

// pushFlag is where a real worker would call its flag store.
func pushFlag(ctx context.Context, _ string, _ string, _ any) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(pushDelay):
		return nil
	}
}
