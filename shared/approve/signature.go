package approve

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Header names of the signed webhook.
const (
	HeaderTimestamp = "X-Cloudtrim-Timestamp"
	HeaderSignature = "X-Cloudtrim-Signature"
)

// DefaultWindow is how far a request's timestamp may be from now.
const DefaultWindow = 5 * time.Minute

// Sign returns the signature header value for body sent at ts:
// "v1=" + hex(HMAC-SHA256(secret, "v1:" + unix seconds + ":" + body)).
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "v1=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v1:"))
	m.Write([]byte(timestamp))
	m.Write([]byte(":"))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks the signature of body against every secret (two may be
// active while a secret is rotated), in constant time per secret, and
// checks that the timestamp lies within window of now. Errors wrap
// domain.ErrPermission and say what is wrong without revealing secrets.
func Verify(secrets [][]byte, timestamp, signature string, body []byte, now time.Time, window time.Duration) error {
	if len(secrets) == 0 {
		return fmt.Errorf("%w: no webhook secret is configured", domain.ErrPermission)
	}
	if timestamp == "" || signature == "" {
		return fmt.Errorf("%w: unsigned request: %s and %s headers are required", domain.ErrPermission, HeaderTimestamp, HeaderSignature)
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", domain.ErrPermission, timestamp)
	}
	skew := now.Sub(time.Unix(secs, 0))
	if skew > window || skew < -window {
		return fmt.Errorf("%w: request timestamp is %v away from now, outside the %v window (expired or clock skew)", domain.ErrPermission, skew.Round(time.Second), window)
	}
	hexSig, ok := strings.CutPrefix(signature, "v1=")
	if !ok {
		return fmt.Errorf("%w: signature scheme is not v1", domain.ErrPermission)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", domain.ErrPermission)
	}
	valid := false
	for _, s := range secrets {
		if hmac.Equal(got, mac(s, timestamp, body)) {
			valid = true
		}
	}
	if !valid {
		return fmt.Errorf("%w: signature does not match the body (tampered or wrong secret)", domain.ErrPermission)
	}
	return nil
}
