package lake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// PointerVersion is the schema version of pointer documents.
const PointerVersion = "cloudtrim.pointer/v1"

// PointerKeep is how many of a pointer's newest versions survive pruning.
const PointerKeep = 16

// Pointer is one version of a named, movable reference, such as the
// latest committed snapshot of a cloud. Seq grows by one on every move.
type Pointer struct {
	Version string    `json:"version"`
	Name    string    `json:"name"`
	Seq     int64     `json:"seq"`
	ID      string    `json:"id"`             // random, names this version
	Prev    string    `json:"prev,omitempty"` // ID of the version this one replaced
	Target  string    `json:"target"`
	At      time.Time `json:"at"`
}

func pointerPrefix(name string) string { return "pointers/" + name + "/" }

func pointerKey(name string, seq int64) string {
	return fmt.Sprintf("pointers/%s/%020d.json", name, seq)
}

// pointerSeqs returns the version numbers found under a pointer's
// prefix, ascending. Anything else there (a temporary file a crashed
// fileblob writer left, say) is ignored.
func (l *Lake) pointerSeqs(ctx context.Context, name string) ([]int64, error) {
	prefix := pointerPrefix(name)
	keys, err := l.st.List(ctx, prefix, "")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	var seqs []int64
	for _, k := range keys {
		if n, ok := parseSeq(strings.TrimPrefix(k, prefix), 20); ok {
			seqs = append(seqs, n)
		}
	}
	return seqs, nil // keys are sorted and zero-padded, so seqs are too
}

// parseSeq reads "<digits>.json" with exactly width digits.
func parseSeq(name string, width int) (int64, bool) {
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok || len(digits) != width {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}

// ReadPointer returns the newest version of the named pointer, or
// domain.ErrNotFound when it was never moved. A pointer document that is
// not valid JSON is domain.ErrInvalid; one of an unknown version is
// domain.ErrUnsupported.
func (l *Lake) ReadPointer(ctx context.Context, name string) (Pointer, error) {
	if err := checkKey(name); err != nil {
		return Pointer{}, fmt.Errorf("read pointer %s: %w", name, err)
	}
	// A version can be pruned between the listing and the read when
	// PointerKeep moves happen in between; list again then.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		seqs, err := l.pointerSeqs(ctx, name)
		if err != nil {
			return Pointer{}, fmt.Errorf("read pointer %s: %w", name, err)
		}
		if len(seqs) == 0 {
			return Pointer{}, fmt.Errorf("read pointer %s: %w: never moved", name, domain.ErrNotFound)
		}
		key := pointerKey(name, seqs[len(seqs)-1])
		var p Pointer
		err = l.getJSON(ctx, key, &p)
		if isNotFound(err) {
			lastErr = err
			continue
		}
		if err != nil {
			return Pointer{}, fmt.Errorf("read pointer %s: %w", name, err)
		}
		if p.Version != PointerVersion {
			return Pointer{}, fmt.Errorf("read pointer %s: %w: %s has schema version %q (want %q)", name, domain.ErrUnsupported, key, p.Version, PointerVersion)
		}
		if p.Seq != seqs[len(seqs)-1] {
			return Pointer{}, fmt.Errorf("read pointer %s: %w: %s holds seq %d", name, domain.ErrInvalid, key, p.Seq)
		}
		return p, nil
	}
	return Pointer{}, fmt.Errorf("read pointer %s: versions keep vanishing: %v", name, lastErr)
}

// MovePointer moves the named pointer to target by writing version
// from+1, where from is the Seq the caller read (0 when ReadPointer said
// domain.ErrNotFound). It is a compare-and-swap: it fails with
// domain.ErrConflict when another writer moved the pointer past from
// first; the caller may read again and retry. After a successful move,
// versions older than the newest PointerKeep are deleted, best effort.
//
// Pruning reopens the slots of deleted versions, so create-if-absent
// alone could let a writer that read long ago recreate a pruned version
// and believe it won. Each version therefore carries a random ID and the
// ID of the version it replaced (Prev); after writing, a mover follows
// the Prev links down from the newest version and wins only if they lead
// to its own; otherwise it withdraws its write and reports the conflict.
func (l *Lake) MovePointer(ctx context.Context, name string, from int64, target string, at time.Time) (Pointer, error) {
	if err := checkKey(name); err != nil {
		return Pointer{}, fmt.Errorf("move pointer %s: %w", name, err)
	}
	if from < 0 {
		return Pointer{}, fmt.Errorf("move pointer %s: %w: negative seq %d", name, domain.ErrInvalid, from)
	}
	p := Pointer{Version: PointerVersion, Name: name, Seq: from + 1, ID: randomHex(8), Target: target, At: at.UTC()}
	if from > 0 {
		var prev Pointer
		err := l.getJSON(ctx, pointerKey(name, from), &prev)
		if isNotFound(err) {
			return Pointer{}, fmt.Errorf("move pointer %s: %w: version %d is not there (stale read)", name, domain.ErrConflict, from)
		}
		if err != nil {
			return Pointer{}, fmt.Errorf("move pointer %s: %w", name, err)
		}
		p.Prev = prev.ID
	}
	key := pointerKey(name, p.Seq)
	if err := l.putJSON(ctx, key, p, true); err != nil {
		return Pointer{}, fmt.Errorf("move pointer %s to %d: %w", name, p.Seq, err)
	}
	seqs, err := l.pointerSeqs(ctx, name)
	if err != nil {
		return Pointer{}, fmt.Errorf("move pointer %s: check version %d: %w", name, p.Seq, err)
	}
	if err := l.onChain(ctx, name, p, seqs[len(seqs)-1]); err != nil {
		// Readers never see a stale version (they take the newest);
		// withdraw it all the same.
		_ = l.st.Delete(ctx, key)
		return Pointer{}, fmt.Errorf("move pointer %s: %w", name, err)
	}
	l.prunePointer(ctx, name, p.Seq, seqs)
	return p, nil
}

// onChain reports, as a domain.ErrConflict, when p is not an ancestor of
// the newest version: then p.Seq had been taken and pruned before p was
// written. The walk is as long as the mover fell behind, usually zero or
// one version.
func (l *Lake) onChain(ctx context.Context, name string, p Pointer, newest int64) error {
	if newest == p.Seq {
		return nil
	}
	if newest < p.Seq {
		return fmt.Errorf("%w: version %d is stale (newest is %d)", domain.ErrConflict, p.Seq, newest)
	}
	for seq := newest; seq > p.Seq; seq-- {
		var v Pointer
		if err := l.getJSON(ctx, pointerKey(name, seq), &v); err != nil {
			if isNotFound(err) {
				return fmt.Errorf("%w: version %d is stale (version %d was pruned)", domain.ErrConflict, p.Seq, seq)
			}
			return fmt.Errorf("check version %d: %w", p.Seq, err)
		}
		if seq == p.Seq+1 {
			if v.Prev != p.ID {
				return fmt.Errorf("%w: version %d is stale (version %d follows another)", domain.ErrConflict, p.Seq, seq)
			}
			return nil
		}
	}
	return nil
}

// pruneAge is how old (by the store's clock) a version must be, relative
// to the newest, before it is pruned. A mover that stalls longer than
// this between its write and its check may be told it lost although
// others built on its version; readers are never affected.
const pruneAge = 10 * time.Minute

// prunePointer deletes versions older than the newest PointerKeep (and
// older than pruneAge) after newest was written, from the listing seqs.
// Failures are ignored: old versions cost storage, never correctness.
func (l *Lake) prunePointer(ctx context.Context, name string, newest int64, seqs []int64) {
	if len(seqs) <= PointerKeep {
		return
	}
	top, err := l.st.ModTime(ctx, pointerKey(name, newest))
	if err != nil {
		return
	}
	for _, s := range seqs {
		if s > newest-PointerKeep {
			break
		}
		mt, err := l.st.ModTime(ctx, pointerKey(name, s))
		if isNotFound(err) {
			continue
		}
		if err != nil || top.Sub(mt) < l.pruneAge {
			return
		}
		if err := l.st.Delete(ctx, pointerKey(name, s)); err != nil && !isNotFound(err) {
			return
		}
	}
}

// advancePointer moves name to target unless it already points at a
// target that sorts after it (a newer run), retrying lost races a few
// times. It reports whether the pointer now names target.
func (l *Lake) advancePointer(ctx context.Context, name, target string, at time.Time) (bool, error) {
	const attempts = 8
	var err error
	for i := 0; i < attempts; i++ {
		var cur Pointer
		cur, err = l.ReadPointer(ctx, name)
		if err != nil && !isNotFound(err) {
			return false, err
		}
		if err == nil && (cur.Target == target || runTime(cur.Target) > runTime(target)) {
			return cur.Target == target, nil
		}
		_, err = l.MovePointer(ctx, name, cur.Seq, target, at)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, domain.ErrConflict) {
			return false, err
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("move pointer %s: lost %d races in a row: %w", name, attempts, err)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// runTime returns the time part of a run ID ("20261123T083000.123Z" of
// "20261123T083000.123Z-1f2e3d4c"). A pointer never moves to a run that
// started earlier than the one it names; of two runs that started in the
// same millisecond, the later commit wins.
func runTime(runID string) string {
	t, _, _ := strings.Cut(runID, "-")
	return t
}
