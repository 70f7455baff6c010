package lake

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// breakerPointer names the pointer that holds a cloud's breaker.
func breakerPointer(cloud domain.Cloud) string { return "breakers/" + string(cloud) }

// Breaker returns the newest version of the circuit breaker of a cloud's
// actuators; a breaker that never moved is a zero domain.Breaker with Seq
// 0 and no error. Errors are those of ReadPointer, and domain.ErrInvalid
// when the stored state is not valid JSON.
func (l *Lake) Breaker(ctx context.Context, cloud domain.Cloud) (domain.Breaker, error) {
	if err := checkCloud(cloud); err != nil {
		return domain.Breaker{}, fmt.Errorf("read breaker %s: %w", cloud, err)
	}
	p, err := l.ReadPointer(ctx, breakerPointer(cloud))
	if isNotFound(err) {
		return domain.Breaker{Version: domain.BreakerVersion, Cloud: cloud}, nil
	}
	if err != nil {
		return domain.Breaker{}, fmt.Errorf("read breaker %s: %w", cloud, err)
	}
	var b domain.Breaker
	if err := json.Unmarshal([]byte(p.Target), &b); err != nil {
		return domain.Breaker{}, fmt.Errorf("read breaker %s: %w: version %d is not valid JSON: %w", cloud, domain.ErrInvalid, p.Seq, err)
	}
	if b.Version != domain.BreakerVersion {
		return domain.Breaker{}, fmt.Errorf("read breaker %s: %w: schema version %q (want %q)", cloud, domain.ErrUnsupported, b.Version, domain.BreakerVersion)
	}
	b.Seq = p.Seq
	return b, nil
}

// SwapBreaker writes next as the version after prev, which the caller
// read with Breaker, and returns it with its Seq. It is a
// compare-and-swap (see MovePointer): domain.ErrConflict when another
// actuator moved the breaker first; read it again and retry.
func (l *Lake) SwapBreaker(ctx context.Context, prev, next domain.Breaker) (domain.Breaker, error) {
	if err := checkCloud(prev.Cloud); err != nil {
		return domain.Breaker{}, fmt.Errorf("swap breaker: %w", err)
	}
	next.Version, next.Cloud, next.Seq = domain.BreakerVersion, prev.Cloud, 0
	next.At, next.OpenUntil = next.At.UTC(), next.OpenUntil.UTC()
	b, err := json.Marshal(next)
	if err != nil {
		return domain.Breaker{}, fmt.Errorf("swap breaker %s: %w: %w", prev.Cloud, domain.ErrInvalid, err)
	}
	p, err := l.MovePointer(ctx, breakerPointer(prev.Cloud), prev.Seq, string(b), next.At)
	if err != nil {
		return domain.Breaker{}, fmt.Errorf("swap breaker %s: %w", prev.Cloud, err)
	}
	next.Seq = p.Seq
	return next, nil
}
