package storagequeue

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestEnvelopeFitsTheMessageLimit encodes envelopes around the 64 KiB
// limit: whatever the reason, the text fits, the body survives whole and
// the reason is a prefix of the one given, cut at a rune boundary.
func TestEnvelopeFitsTheMessageLimit(t *testing.T) {
	at := time.Date(2026, 11, 23, 8, 0, 0, 123456789, time.UTC)
	reasons := map[string]string{
		"short":          "apply failed",
		"long ASCII":     strings.Repeat("x", 80<<10),
		"quotes":         strings.Repeat(`"\`, 40<<10),
		"control":        strings.Repeat("\x01", 20<<10),
		"multi-byte":     strings.Repeat("é✓😀", 10<<10),
		"invalid UTF-8":  strings.Repeat("a\xff", 40<<10),
		"line separator": strings.Repeat("\u2028", 30<<10),
	}
	for _, size := range []int{0, 100, 30 << 10, MaxBodyBytes - 300, MaxBodyBytes - 120} {
		body := bytes.Repeat([]byte{0xAB}, size)
		for name, reason := range reasons {
			text, ok := encodeEnvelope(envelope{Body: body, Attempts: 3, Reason: reason, At: at})
			if !ok {
				t.Errorf("body %d, reason %s: no envelope; want one", size, name)
				continue
			}
			if len(text) > MaxMessageBytes || !utf8.ValidString(text) {
				t.Errorf("body %d, reason %s: text of %d bytes (valid UTF-8: %v); want at most %d", size, name, len(text), utf8.ValidString(text), MaxMessageBytes)
			}
			e, ok := decodeEnvelope(text)
			if !ok || !bytes.Equal(e.Body, body) || e.Attempts != 3 || !e.At.Equal(at) {
				t.Errorf("body %d, reason %s: decoded %v, body %d bytes, attempts %d, at %v", size, name, ok, len(e.Body), e.Attempts, e.At)
				continue
			}
			valid := strings.ToValidUTF8(reason, "\uFFFD")
			got := strings.TrimSuffix(e.Reason, "…")
			if !strings.HasPrefix(valid, got) || (got != valid && !strings.HasSuffix(e.Reason, "…")) {
				t.Errorf("body %d, reason %s: reason %.40q… is not a marked prefix of the one given", size, name, e.Reason)
			}
			if size <= 30<<10 && len(got) < 1000 && got != valid {
				t.Errorf("body %d, reason %s: reason cut to %d bytes with room to spare", size, name, len(got))
			}
		}
	}
	// The largest body leaves no room for an envelope.
	if _, ok := encodeEnvelope(envelope{Body: make([]byte, MaxBodyBytes), Reason: "r", At: at}); ok {
		t.Error("an envelope of a MaxBodyBytes body fits; want none (its base64 alone is the limit)")
	}
}

// TestDecodeText reads the three kinds of message text: base64, an
// envelope, and neither.
func TestDecodeText(t *testing.T) {
	body, last, err := decodeText(base64.StdEncoding.EncodeToString([]byte("hello")))
	if err != nil || string(body) != "hello" || last.Reason != "" {
		t.Errorf("decodeText(base64) = %q, %+v, %v", body, last, err)
	}
	text, _ := encodeEnvelope(envelope{Body: []byte("hi"), Attempts: 2, Reason: "r"})
	body, last, err = decodeText(text)
	if err != nil || string(body) != "hi" || last.Reason != "r" || last.Attempts != 2 {
		t.Errorf("decodeText(envelope) = %q, %+v, %v", body, last, err)
	}
	for _, bad := range []string{"hello!", `{"type":"other","body":"aGk="}`, "{not json"} {
		if _, _, err := decodeText(bad); err == nil {
			t.Errorf("decodeText(%q) = nil error; want one", bad)
		}
	}
}
