package awsfake

import (
	"net/http"

	"github.com/aws/smithy-go/encoding/cbor"
)

// writeCBOR writes a Smithy RPC v2 CBOR reply.
func writeCBOR(w http.ResponseWriter, rc *reqContext, status int, v cbor.Value) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-RequestId", rc.requestID)
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(v))
}

// writeCBORError writes a Smithy RPC v2 CBOR error: a map whose __type
// names the error shape.
func writeCBORError(w http.ResponseWriter, rc *reqContext, status int, code, message string) {
	writeCBOR(w, rc, status, cbor.Map{"__type": cbor.String(code), "message": cbor.String(message)})
}
