package triggers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/batchwire/batchwire/config"
)

// Defaults for an HTTPTrigger built without config.Parse (tests, tools);
// they match the ones config applies.
const (
	defaultHTTPMaxBodyBytes = 1 << 20
	defaultHTTPTimeout      = 30 * time.Second
)

// decodeRequest turns one request body into the events it carries, all
// validated. It returns a *DecodeError, possibly wrapping an *AuthError.
type decodeRequest func(r *http.Request, body []byte) ([]*cloudevents.Event, error)

// HTTPSource receives events on one path of the daemon's HTTP server, in one
// of three formats: CloudEvents (binary, structured or batch mode), an
// Alertmanager webhook (one event per alert) or any JSON webhook mapped to an
// event by CEL expressions.
//
// HTTP delivery is the sender's: a request is answered 202 only once every
// event it carried was acked, and 503 with
// Retry-After when any was nak'ed or no decision came within the timeout, so
// the sender re-sends the whole request. Events already decided then come
// again with the same id, and the daemon's job ids make them no-ops. A
// malformed request is answered 400 and nothing in it is handled. Attempt is
// always 1: a re-sent request cannot be told from a new one.
type HTTPSource struct {
	reporting
	trigger config.Trigger
	cfg     config.HTTPTrigger
	decode  decodeRequest
	auth    *httpAuth
	logger  *slog.Logger
	// authFailed counts refused credentials; set before the source serves.
	authFailed AuthFailed

	// run is set while Run is active; ServeHTTP answers 503 otherwise.
	run atomic.Pointer[httpRun]
	// turn is a one-slot semaphore: the handler is called by one request at
	// a time, so events of a trigger are handled in arrival order, as with
	// the other sources. A channel rather than a mutex, so a request can
	// stop waiting for its turn when its timeout passes.
	turn chan struct{}
	// queue bounds the requests between reading their body and their turn
	// (each holds up to max_body_bytes) to the trigger's max_in_flight; one
	// more is answered 503 before its body is read.
	queue chan struct{}

	started started
}

// httpRun is what one Run hands to ServeHTTP.
type httpRun struct {
	ctx     context.Context
	handle  Handler
	invalid Invalid
}

// NewHTTPSource returns a source for t, which must have HTTP settings. It
// compiles a webhook mapping and reads the webhook's signing secret, so a bad
// expression or a missing secret fails at start, not on the first request.
func NewHTTPSource(t config.Trigger, logger *slog.Logger) (*HTTPSource, error) {
	if t.HTTP == nil {
		return nil, fmt.Errorf("trigger %q: no http settings", t.Name)
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := &HTTPSource{
		trigger: t,
		cfg:     withHTTPDefaults(*t.HTTP),
		logger:  logger.With("trigger", t.Name),
		turn:    make(chan struct{}, 1),
		queue:   make(chan struct{}, maxInFlight(t)),
		started: newStarted(),
	}
	auth, err := newHTTPAuth(s.cfg.Auth)
	if err != nil {
		return nil, fmt.Errorf("trigger %q: %w", t.Name, err)
	}
	s.auth = auth
	switch s.cfg.Format {
	case "cloudevents":
		s.decode = decodeCloudEvents(s.cfg.MaxBatchEvents)
	case "alertmanager":
		s.decode = decodeAlertmanager(s.cfg.MaxAlerts)
	case "webhook":
		hook, err := newWebhook(s.cfg.Webhook)
		if err != nil {
			return nil, fmt.Errorf("trigger %q: %w", t.Name, err)
		}
		s.decode = hook.decode
	default:
		return nil, fmt.Errorf("trigger %q: %w", t.Name,
			fieldErrorf("http.format", "want cloudevents, alertmanager or webhook, got %q", s.cfg.Format))
	}
	return s, nil
}

// maxInFlight is the trigger's max_in_flight, or config's default for a
// trigger built without config.Parse.
func maxInFlight(t config.Trigger) int {
	if t.MaxInFlight <= 0 {
		return config.DefaultMaxInFlight
	}
	return t.MaxInFlight
}

func withHTTPDefaults(cfg config.HTTPTrigger) config.HTTPTrigger {
	if cfg.Format == "" {
		cfg.Format = "cloudevents"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultHTTPMaxBodyBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = config.Duration(defaultHTTPTimeout)
	}
	if cfg.MaxAlerts <= 0 {
		cfg.MaxAlerts = config.DefaultMaxAlerts
	}
	if cfg.MaxBatchEvents <= 0 {
		cfg.MaxBatchEvents = config.DefaultMaxBatchEvents
	}
	return cfg
}

// OnAuthFailure sets what is told of each request refused for its
// credentials. Call it before the source serves requests.
func (s *HTTPSource) OnAuthFailure(f AuthFailed) { s.authFailed = f }

// Name is the trigger's name.
func (s *HTTPSource) Name() string { return s.trigger.Name }

// Started is closed once a first Run takes requests; before that they get 503.
func (s *HTTPSource) Started() <-chan struct{} { return s.started.ch }

// Path is where the daemon mounts the source on its HTTP server.
func (s *HTTPSource) Path() string { return s.cfg.Path }

// Run accepts requests until ctx is done, then refuses new ones with 503 and
// returns nil once no handler call is under way, so no event reaches the
// daemon after Run has returned. Requests that were already handed to the
// handler still wait (up to the timeout) for their decisions.
func (s *HTTPSource) Run(ctx context.Context, handle Handler, invalid Invalid) error {
	if handle == nil {
		return fmt.Errorf("trigger %q: nil handler", s.trigger.Name)
	}
	if !s.run.CompareAndSwap(nil, &httpRun{ctx: ctx, handle: handle, invalid: invalid}) {
		return fmt.Errorf("trigger %q: already running", s.trigger.Name)
	}
	s.logger.Info("accepting events over HTTP", "path", s.cfg.Path, "format", s.cfg.Format,
		"max_body_bytes", s.cfg.MaxBodyBytes, "timeout", s.cfg.Timeout.Std())
	s.started.mark()
	<-ctx.Done()
	// Taking the turn waits out a handler call under way; with run cleared
	// under it, no request can start another.
	s.turn <- struct{}{}
	s.run.Store(nil)
	<-s.turn
	s.logger.Info("stopped accepting events over HTTP", "path", s.cfg.Path)
	return nil
}

// ServeHTTP reads, decodes and validates the whole request, hands its events
// to the handler and answers once all of them are settled or the timeout
// passes. See HTTPSource for what each answer means.
func (s *HTTPSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeReply(w, http.StatusMethodNotAllowed, httpReply{
			Error: fmt.Sprintf("method %s not allowed: POST events to %s", r.Method, s.cfg.Path),
		})
		return
	}
	if err := s.auth.check(r); err != nil {
		s.refuseAuth(w, fmt.Errorf("trigger %q: %w", s.trigger.Name, err))
		return
	}
	run := s.run.Load()
	if run == nil || run.ctx.Err() != nil {
		writeUnavailable(w, time.Second, httpReply{Error: "trigger " + s.trigger.Name + " is not accepting events now"})
		return
	}
	select {
	case s.queue <- struct{}{}:
		defer func() { <-s.queue }()
	default:
		s.dropped(s.trigger.Name, DropQueueFull, 1)
		s.logger.Warn("request refused: max_in_flight requests of the trigger waiting already", "path", r.URL.Path)
		writeUnavailable(w, time.Second, httpReply{Error: fmt.Sprintf(
			"trigger %s has %d requests waiting already (max_in_flight); re-send later", s.trigger.Name, cap(s.queue))})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout.Std())
	defer cancel()
	events, err := s.read(w, r)
	if err != nil {
		s.reject(w, r, run, err)
		return
	}
	outcome := s.deliverAll(ctx, events)
	s.respond(w, outcome)
}

// Decode turns a request body into the events this trigger would hand the
// daemon, without handling any: `batchwire test` uses it to try a captured
// payload against the rules. Signature checks apply as to a real request.
func (s *HTTPSource) Decode(ctx context.Context, header http.Header, body []byte) ([]*cloudevents.Event, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Path, http.NoBody)
	if err != nil {
		return nil, err
	}
	r.Header = header.Clone()
	return s.decodeSafely(r, body)
}

// decodeSafely runs the format's decoder; a panic in it (a library's bug)
// refuses the request instead of dropping the connection.
func (s *HTTPSource) decodeSafely(r *http.Request, body []byte) (events []*cloudevents.Event, err error) {
	defer recoverDecode(&events, &err)
	return s.decode(r, body)
}

// requireJSON refuses a body that is not declared JSON: a browser sends a
// cross-site form POST (text/plain, a form encoding) without asking first,
// but never application/json.
func requireJSON(header http.Header) *DecodeError {
	contentType := header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err == nil && (mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")) {
		return nil
	}
	return &DecodeError{Status: http.StatusUnsupportedMediaType,
		Reason: fmt.Sprintf("Content-Type %q: want application/json", contentType)}
}

// read takes the whole body before anything is handled: a request is
// accepted or refused as a whole, never half handled.
func (s *HTTPSource) read(w http.ResponseWriter, r *http.Request) ([]*cloudevents.Event, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &DecodeError{Reason: fmt.Sprintf("body larger than %d bytes", tooLarge.Limit), Err: err}
		}
		return nil, &DecodeError{Reason: "cannot read body", Err: err}
	}
	return s.decodeSafely(r, body)
}

// reject answers a request that was refused before any event was handled,
// and reports it to invalid, once per request.
func (s *HTTPSource) reject(w http.ResponseWriter, r *http.Request, run *httpRun, err error) {
	var decodeErr *DecodeError
	if !errors.As(err, &decodeErr) {
		decodeErr = &DecodeError{Reason: "invalid request", Err: err}
	}
	decodeErr.Trigger = s.trigger.Name
	if errors.As(err, new(*AuthError)) {
		s.refuseAuth(w, decodeErr)
		return
	}
	status := rejectStatus(decodeErr)
	// Like the other sources, log only what no one else reports: invalid is
	// the daemon's way to count and audit refused input.
	if run.invalid == nil {
		s.logger.Warn("request refused", "path", r.URL.Path, "status", status, "err", decodeErr)
	} else {
		s.logger.Debug("request refused", "path", r.URL.Path, "status", status, "err", decodeErr)
		run.invalid(s.trigger.Name, decodeErr)
	}
	writeReply(w, status, httpReply{Error: decodeErr.Error()})
}

func rejectStatus(err *DecodeError) int {
	var tooLarge *http.MaxBytesError
	switch {
	case err.Status != 0:
		return err.Status
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, new(*AuthError)):
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// refuseAuth answers 401 and counts the failure by reason. It does not
// report to invalid: a request without credentials is no event, and
// counting it there would let anyone fill the log.
func (s *HTTPSource) refuseAuth(w http.ResponseWriter, err error) {
	reason := AuthReasonSignature
	var authErr *AuthError
	if errors.As(err, &authErr) {
		reason = authErr.Reason
	}
	s.logger.Debug("request refused: authentication failed", "reason", reason, "err", err)
	if s.authFailed != nil {
		s.authFailed(s.trigger.Name, reason)
	}
	if reason == AuthReasonBearerToken {
		w.Header().Set("WWW-Authenticate", `Bearer realm="batchwire"`)
	}
	writeReply(w, http.StatusUnauthorized, httpReply{Error: err.Error()})
}
