package lake

import (
	"context"
	"fmt"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// KillSwitchKey is the lake key of the kill switch document.
const KillSwitchKey = "config/kill-switch.json"

// KillSwitch reads the kill switch document. None is a zero, disengaged
// KillSwitch and no error. A document that is not valid JSON is
// domain.ErrInvalid naming the key, one of another schema version
// domain.ErrUnsupported; callers that guard changes must treat any error
// as engaged.
func (l *Lake) KillSwitch(ctx context.Context) (domain.KillSwitch, error) {
	var k domain.KillSwitch
	b, err := l.st.Get(ctx, KillSwitchKey)
	if isNotFound(err) {
		return domain.KillSwitch{}, nil
	}
	if err != nil {
		return domain.KillSwitch{}, fmt.Errorf("read kill switch %s: %w", KillSwitchKey, err)
	}
	if err := decodeJSON(KillSwitchKey, b, &k); err != nil {
		return domain.KillSwitch{}, fmt.Errorf("read kill switch: %w", err)
	}
	if k.Version != "" && k.Version != domain.KillSwitchVersion {
		return domain.KillSwitch{}, fmt.Errorf("read kill switch: %w: %s has schema version %q (want %q)", domain.ErrUnsupported, KillSwitchKey, k.Version, domain.KillSwitchVersion)
	}
	return k, nil
}

// SetKillSwitch writes the kill switch document, replacing the one there:
// Engaged true stops every actuator at its next check, false lets them
// go on. An empty Version is set to domain.KillSwitchVersion.
func (l *Lake) SetKillSwitch(ctx context.Context, k domain.KillSwitch) error {
	if k.Version == "" {
		k.Version = domain.KillSwitchVersion
	}
	k.At = k.At.UTC()
	if err := l.putJSON(ctx, KillSwitchKey, k, false); err != nil {
		return fmt.Errorf("set kill switch: %w", err)
	}
	return nil
}
