package funcapp

import "strings"

// IsSnapshotManifest reports whether key, a key in the lake, is a
// committed snapshot's manifest: what an object-created event must name
// for the optimize function to plan.
func IsSnapshotManifest(key string) bool {
	return strings.HasPrefix(key, "snapshots/") && strings.HasSuffix(key, "/_manifest.json") && !strings.Contains(key, "..")
}

// Clean bounds and sanitises text from an event or request for logs and
// answers: at most 200 bytes, control characters as '?'.
func Clean(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
