package daemon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// fitRecord encodes rec within maxBytes. The fields an event or a rule's
// rendering can make long (the event's attributes, query, reason) are cut to
// a share of maxBytes, each followed by its full length and SHA-256, so the
// full value can still be matched against the event or the job. JSON escaping
// can make a field up to six times longer, so a record that is still too long
// is cut again, harder.
func fitRecord(rec Record, maxBytes int) ([]byte, error) {
	for _, share := range []int{maxBytes / 16, maxBytes / 128} {
		body, err := encodeRecord(rec.cut(share))
		if err != nil || len(body) <= maxBytes {
			return body, err
		}
	}
	return nil, fmt.Errorf("audit record of rule %q does not fit in %d bytes", rec.Rule, maxBytes)
}

func (rec Record) cut(share int) Record {
	for _, field := range []*string{&rec.EventID, &rec.EventSource, &rec.EventType, &rec.Query, &rec.Reason, &rec.Trigger, &rec.Rule} {
		*field = cutField(*field, share)
	}
	return rec
}

// cutField keeps s when it has at most limit bytes; otherwise a prefix, on
// a rune boundary, and a note of what was cut.
func cutField(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	note := fmt.Sprintf("… [cut: %d bytes, sha256:%s]", len(s), hex.EncodeToString(sum[:]))
	keep := max(limit-len(note), 0)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + note
}

func encodeRecord(rec Record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
