package batch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
)

// ServerInfo is what the connected server says of itself (GetSystemInfo),
// read once when batchwire connects.
type ServerInfo struct {
	// Version is the server's release, such as 1.29.1.
	Version      string
	Capabilities *workflowservice.GetSystemInfoResponse_Capabilities
}

// SystemInfo asks the server for its version and capabilities.
func (c *Client) SystemInfo(ctx context.Context) (ServerInfo, error) {
	resp, err := c.svc.GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	if err != nil {
		return ServerInfo{}, fmt.Errorf("get system info: %w", err)
	}
	return ServerInfo{Version: resp.GetServerVersion(), Capabilities: resp.GetCapabilities()}, nil
}

// Minimum server releases, read from the server's release tags: the oldest
// release whose batcher (or, for what the batcher lacks, whose per-execution
// API) runs each kind and option.
var minVersions = map[string]string{
	KindSignal: "1.18.0", KindTerminate: "1.18.0", KindCancel: "1.18.0", KindDelete: "1.19.0", KindReset: "1.21.0",
	KindUpdateOptions: "1.26.2", KindPauseActivities: "1.27.0", KindUnpauseActivities: "1.27.0",
	KindResetActivities: "1.29.0", KindUpdateActivityOptions: "1.29.0",
}

// Requirement is one part of an operation and the oldest server that runs it.
type Requirement struct {
	What    string `json:"what"`
	Version string `json:"version"`
}

// Requirements lists what the operation needs of the server, the kind first.
func (o Operation) Requirements() []Requirement {
	needs := []Requirement{{What: o.Kind, Version: minVersions[o.Kind]}}
	if r := o.Reset; r != nil {
		if r.Type == ResetBuildID {
			needs = append(needs, Requirement{What: "reset type BuildId", Version: "1.27.0"})
		}
		if len(r.PostReset) > 0 {
			needs = append(needs, Requirement{What: "reset.post_reset", Version: "1.29.0"})
		}
	}
	return needs
}

// MinServerVersion is the oldest server release that runs the whole operation.
func (o Operation) MinServerVersion() string {
	highest := "0.0.0"
	for _, need := range o.Requirements() {
		if compareVersions(need.Version, highest) > 0 {
			highest = need.Version
		}
	}
	return highest
}

// ErrServerTooOld means the connected server cannot run an operation.
var ErrServerTooOld = errors.New("server too old")

// CheckServer refuses an operation the server is too old to run, naming
// what needs which version. A version the server does not report (or that
// does not parse) is let through: the server will then say what it lacks.
func (s ServerInfo) CheckServer(op Operation) error {
	if _, ok := parseVersion(s.Version); !ok {
		return nil
	}
	var missing []string
	for _, need := range op.Requirements() {
		if compareVersions(s.Version, need.Version) < 0 {
			missing = append(missing, fmt.Sprintf("%s needs Temporal server %s or later", need.What, need.Version))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return tooOldError(fmt.Sprintf("%s; the connected server runs %s", strings.Join(missing, ", "), s.Version))
}

// tooOldError says what needs which version; it is ErrServerTooOld.
type tooOldError string

func (e tooOldError) Error() string        { return string(e) }
func (e tooOldError) Is(target error) bool { return target == ErrServerTooOld }

// compareVersions compares two releases (1.26.2, v1.29.1-rc.1) by their
// numbers; a part that does not parse counts as 0.
func compareVersions(a, b string) int {
	va, _ := parseVersion(a)
	vb, _ := parseVersion(b)
	for i := range va {
		if va[i] != vb[i] {
			if va[i] < vb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	v, _, _ = strings.Cut(v, "-")
	v, _, _ = strings.Cut(v, "+")
	parts := strings.Split(v, ".")
	if v == "" || len(parts) > 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}
