package triggers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

// deadLetterReader returns the next dead letter, however it was stored.
type deadLetterReader func(t *testing.T) (nats.Header, []byte)

// coreDeadLetters subscribes to the dead-letter subject with core NATS: the
// dead letter is a plain publish when no stream stores the subject.
func coreDeadLetters(t *testing.T, nc *nats.Conn, _ jetstream.JetStream) deadLetterReader {
	sub, err := nc.SubscribeSync(jsDeadLetter)
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	return func(t *testing.T) (nats.Header, []byte) {
		msg, err := sub.NextMsg(waitFor)
		require.NoError(t, err, "no dead letter")
		return msg.Header, msg.Data
	}
}

// streamDeadLetters creates a stream for dead letters, which must then be
// published through JetStream and stored.
func streamDeadLetters(t *testing.T, _ *nats.Conn, js jetstream.JetStream) deadLetterReader {
	stream, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "DEAD", Subjects: []string{"batchwire.dead.>"}})
	require.NoError(t, err)
	return func(t *testing.T) (nats.Header, []byte) {
		var raw *jetstream.RawStreamMsg
		require.Eventually(t, func() bool {
			raw, err = stream.GetMsg(t.Context(), 1)
			return err == nil
		}, waitFor, 10*time.Millisecond, "no dead letter stored")
		return raw.Header, raw.Data
	}
}

var deadLetterTargets = []struct {
	name   string
	reader func(*testing.T, *nats.Conn, jetstream.JetStream) deadLetterReader
}{
	{"core subscriber", coreDeadLetters},
	{"dead-letter stream", streamDeadLetters},
}

func TestJetStreamSourceDeadLettersAfterMaxDeliver(t *testing.T) {
	for _, target := range deadLetterTargets {
		t.Run(target.name, func(t *testing.T) {
			nc := connect(t, testenv.RunNATS(t))
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			readDeadLetter := target.reader(t, nc, js)
			h := startJetStream(t, nc, jsTrigger(2), testenv.Logger(t))

			original := binaryMsg(t, keepCase, func(h nats.Header) {
				h["ce-id"] = []string{"evt-doomed"}
				h[jetstream.MsgIDHeader] = []string{"publisher-id-1"}
			})
			original.Subject = "deploy.payments"
			seq := h.publish(original)

			first := h.receive("evt-doomed", 1)
			require.NoError(t, first.delivery.Nak(10*time.Millisecond, errors.New("temporal unavailable")))
			last := h.receive("evt-doomed", 2)
			cause := errors.New("temporal unavailable: connection refused\nwhile counting")
			require.NoError(t, last.delivery.Nak(10*time.Millisecond, cause), "the last Nak dead-letters")

			header, body := readDeadLetter(t)
			require.Equal(t, original.Data, body)
			require.Equal(t, "temporal unavailable: connection refused while counting", header.Get(HeaderError))
			require.Equal(t, "deploys", header.Get(HeaderTrigger))
			require.Equal(t, jsStream, header.Get(HeaderStream))
			require.Equal(t, "1", header.Get(HeaderStreamSeq))
			require.Equal(t, uint64(1), seq)
			require.Equal(t, "2", header.Get(HeaderDeliveries))
			require.Equal(t, "deploy.payments", header.Get(HeaderSubject))
			require.Equal(t, "evt-doomed", header.Get("ce-id"), "original headers kept")
			require.Equal(t, "batchwire-dead:DEPLOYS:1", header.Get(jetstream.MsgIDHeader))

			h.requireSettled()
			require.Equal(t, 1, h.reports.get("dead_lettered/deploys/last_delivery"))
			h.requireQuiet()
			h.stop()
		})
	}
}

func TestJetStreamSourceDeadLettersMalformedAtOnce(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	readDeadLetter := coreDeadLetters(t, nc, nil)
	h := startJetStream(t, nc, jsTrigger(5), testenv.Logger(t))

	h.publish(&nats.Msg{Subject: "deploy.payments", Data: []byte("deploy rolled back")})
	err := receiveWithin(t, h.invalids, "invalid callback")
	var decodeErr *DecodeError
	require.ErrorAs(t, err, &decodeErr)
	require.Equal(t, "deploys", decodeErr.Trigger)
	require.Equal(t, "body is not JSON", decodeErr.Reason)

	header, body := readDeadLetter(t)
	require.Equal(t, "deploy rolled back", string(body))
	require.Contains(t, header.Get(HeaderError), "body is not JSON")
	require.Equal(t, "1", header.Get(HeaderDeliveries), "dead-lettered on its first delivery")
	h.requireSettled()

	// The source carries on with the next message.
	h.publish(eventMsg(t, "deploy.payments", "evt-after-bad"))
	require.NoError(t, h.receive("evt-after-bad", 1).delivery.Ack())
	h.requireQuiet() // invalid was called once and the bad message is gone
	require.Empty(t, h.seen)
	h.stop()
}

func TestErrorHeader(t *testing.T) {
	tests := []struct {
		name  string
		cause error
		want  string
	}{
		{"nil cause", nil, "unknown (no cause given)"},
		{"one line", errors.New("rpc error: code = Unavailable"), "rpc error: code = Unavailable"},
		{"CR and LF", errors.New("first\r\nsecond\nthird"), "first second third"},
		{
			name:  "too long, cut inside a rune",
			cause: errors.New("a" + strings.Repeat("é", maxErrorHeader)),
			want:  "a" + strings.Repeat("é", maxErrorHeader/2-1) + "...",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, errorHeader(tc.cause))
		})
	}
}

// A last delivery that runs out its ack wait without a decision (a daemon
// that hung or crashed) is not lost silently: the server's max-deliveries
// advisory makes the source dead-letter it.
func TestJetStreamSourceDeadLettersTimedOutLastDelivery(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	readDeadLetter := coreDeadLetters(t, nc, nil)
	h := startJetStream(t, nc, jsTrigger(1), testenv.Logger(t))
	msg := eventMsg(t, "deploy.payments", "evt-hung")
	h.publish(msg)

	h.receive("evt-hung", 1) // never settled
	header, body := readDeadLetter(t)
	require.Equal(t, msg.Data, body)
	require.Contains(t, header.Get(HeaderError), "no decision within ack_wait")
	require.Equal(t, "1", header.Get(HeaderDeliveries))
	require.Equal(t, "deploy.payments", header.Get(HeaderSubject))
	require.Eventually(t, func() bool { return h.reports.get("dead_lettered/deploys/ack_wait") == 1 }, waitFor, 10*time.Millisecond)
	h.stop()
}
