package lake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// costsScope is the region a collector records a failed cost read under:
// it says nothing about the inventory.
const costsScope = "costs"

// Coverage reads the manifests of the snapshots a plan was made from
// and reports which scopes' inventory was read completely. A scope that
// failed, or is partial for any reason but its utilization series, is a
// gap. An empty list is domain.ErrNotFound; a snapshot that is gone or
// whose manifest no longer matches the plan's checksum is
// domain.ErrNotFound or domain.ErrInvalid; other errors are the store's.
// Manifests are immutable, so what was read is kept in memory by the
// snapshot reference, checksum included.
func (l *Lake) Coverage(ctx context.Context, snaps []domain.SnapshotRef) (domain.Coverage, error) {
	if len(snaps) == 0 {
		return domain.Coverage{}, fmt.Errorf("coverage: %w: the plan names no snapshot", domain.ErrNotFound)
	}
	out := domain.Coverage{Known: true}
	for _, ref := range snaps {
		c, err := l.snapshotCoverage(ctx, ref)
		if err != nil {
			return domain.Coverage{}, fmt.Errorf("coverage: %w", err)
		}
		out.Resources += c.Resources
		out.Scopes = append(out.Scopes, c.Scopes...)
		out.Gaps = append(out.Gaps, c.Gaps...)
	}
	return out, nil
}

var coverageCache struct {
	sync.Mutex
	m map[string]domain.Coverage
}

// coverageCacheSize bounds the coverage cache; it is emptied when full.
const coverageCacheSize = 256

func (l *Lake) snapshotCoverage(ctx context.Context, ref domain.SnapshotRef) (domain.Coverage, error) {
	id := string(ref.Cloud) + "\x00" + ref.RunID + "\x00" + ref.Manifest + "\x00" + ref.Checksum
	coverageCache.Lock()
	c, ok := coverageCache.m[id]
	coverageCache.Unlock()
	if ok && ref.Checksum != "" {
		return c, nil
	}
	s, err := l.OpenSnapshot(ctx, ref.Cloud, ref.RunID)
	if err != nil {
		return domain.Coverage{}, err
	}
	if s.Checksum() != ref.Checksum {
		return domain.Coverage{}, fmt.Errorf("%w: snapshot %s/%s: manifest %s has checksum %s, the plan recorded %q", domain.ErrInvalid, ref.Cloud, ref.RunID, s.Key(), s.Checksum(), ref.Checksum)
	}
	c = domain.Coverage{Known: true}
	for _, sc := range s.Manifest().Scopes {
		if sc.Region == costsScope {
			continue
		}
		sr := domain.ScopeRef{Cloud: ref.Cloud, Account: sc.Account, Region: sc.Region}
		c.Resources += sc.Resources
		switch {
		case sc.Status == ScopeOK, sc.Status == ScopePartial && strings.HasPrefix(sc.Error, "utilization: "):
			c.Scopes = append(c.Scopes, sr)
		default:
			c.Gaps = append(c.Gaps, domain.ScopeGap{ScopeRef: sr, Status: sc.Status, Error: sc.Error})
		}
	}
	c.Scopes, c.Gaps = slices.Clip(c.Scopes), slices.Clip(c.Gaps)
	coverageCache.Lock()
	if coverageCache.m == nil || len(coverageCache.m) >= coverageCacheSize {
		coverageCache.m = map[string]domain.Coverage{}
	}
	coverageCache.m[id] = c
	coverageCache.Unlock()
	return c, nil
}
