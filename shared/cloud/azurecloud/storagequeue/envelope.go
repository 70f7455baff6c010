package storagequeue

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// EnvelopeType is the "type" of the JSON envelope the driver writes: to
// the poison queue for every dead letter, and to the queue itself for a
// nacked message, so that its reason travels with it.
const EnvelopeType = "cloudtrim.queue/v1"

// MaxMessageBytes is the Queue service's limit on a message's text:
// 64 KiB of UTF-8.
const MaxMessageBytes = 64 << 10

// MaxBodyBytes is the largest body Send takes: its base64 encoding is
// MaxMessageBytes long.
const MaxBodyBytes = MaxMessageBytes / 4 * 3

// envelope is a body with its delivery history. Body is base64 in JSON.
//
//	{"type":"cloudtrim.queue/v1","body":"eyJhY3Rpb24iOiJzdG9wIn0=","attempts":3,
//	 "reason":"apply failed: throttled","at":"2026-11-23T08:00:00Z"}
type envelope struct {
	Type     string    `json:"type"`
	Body     []byte    `json:"body"`
	Attempts int       `json:"attempts"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// encodeBody is the message text of a body: standard base64, as the
// Azure Functions queue trigger decodes it by default.
func encodeBody(body []byte) string {
	return base64.StdEncoding.EncodeToString(body)
}

// checkBody refuses a body whose message text would exceed the service's
// limit.
func checkBody(body []byte) error {
	if n := base64.StdEncoding.EncodedLen(len(body)); n > MaxMessageBytes {
		return fmt.Errorf("body of %d bytes is %d bytes in base64, over the %d-byte message limit (at most %d bytes of body)",
			len(body), n, MaxMessageBytes, MaxBodyBytes)
	}
	return nil
}

// encodeEnvelope returns the message text of e: its JSON, with the reason
// cut short (at a rune boundary, marked with "…") if that is what it
// takes to fit MaxMessageBytes. ok is false when even an empty reason
// does not fit, which only bodies within 80 bytes of MaxBodyBytes
// reach.
func encodeEnvelope(e envelope) (text string, ok bool) {
	e.Type = EnvelopeType
	e.Reason = strings.ToValidUTF8(e.Reason, "\uFFFD")
	if text := marshal(e); len(text) <= MaxMessageBytes {
		return text, true
	}
	reason := e.Reason
	e.Reason = ""
	bare := marshal(e)
	if len(bare) > MaxMessageBytes {
		return "", false
	}
	room := MaxMessageBytes - len(bare) - len("…")
	if room <= 0 {
		return bare, true
	}
	n, used := 0, 0
	for i, r := range reason {
		w := escapedLen(r)
		if used+w > room {
			break
		}
		used += w
		n = i + utf8.RuneLen(r)
	}
	e.Reason = reason[:n] + "…"
	if text := marshal(e); len(text) <= MaxMessageBytes {
		return text, true
	}
	return bare, true // not reached: escapedLen never under-counts
}

// escapedLen is how many bytes r takes in a JSON string written by
// marshal, or more.
func escapedLen(r rune) int {
	switch {
	case r == '"' || r == '\\':
		return 2
	case r < 0x20 || r == '\u2028' || r == '\u2029':
		return 6
	}
	return utf8.RuneLen(r)
}

// marshal is JSON without HTML escaping (the text is XML-escaped on the
// wire anyway, and < > & would cost six bytes each).
func marshal(e envelope) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		// envelope holds only strings, bytes, an int and a time: it
		// always encodes.
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// decodeEnvelope reads a message text written by encodeEnvelope.
func decodeEnvelope(text string) (envelope, bool) {
	if !strings.HasPrefix(text, "{") {
		return envelope{}, false
	}
	var e envelope
	if err := json.Unmarshal([]byte(text), &e); err != nil || e.Type != EnvelopeType {
		return envelope{}, false
	}
	return e, true
}

// decodeText reads the message text of the queue: a base64 body as Send
// and the Functions host's producers write it, or an envelope written by
// Nack. A text that is neither is an error.
func decodeText(text string) (body []byte, last envelope, err error) {
	if e, ok := decodeEnvelope(text); ok {
		return e.Body, e, nil
	}
	body, err = base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, envelope{}, fmt.Errorf("message text is neither base64 (the queue's message encoding) nor a %s envelope: %w", EnvelopeType, err)
	}
	return body, envelope{}, nil
}
