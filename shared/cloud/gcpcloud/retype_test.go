package gcpcloud

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestRetypeIsUnsupported(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	err := p.Retype(ctx, ref(orphan), "pd-standard", "p/a/retype")
	if !errors.Is(err, domain.ErrUnsupported) {
		t.Fatalf("Retype(%s) = %v, want unsupported", orphan, err)
	}
	want := "Compute Engine cannot change the type of persistent disk orphan in place; create a new pd-standard disk from a snapshot"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Retype error %q, want it to say %q", err, want)
	}
	// The reference is checked first, as by every call.
	for _, tc := range []struct {
		name string
		ref  domain.ResourceRef
		want error
	}{
		{"project not owned", ref("projects/" + projB + "/zones/us-central1-a/disks/orphan"), domain.ErrPermission},
		{"an instance", ref(vmA), domain.ErrInvalid},
		{"another cloud", domain.ResourceRef{Cloud: domain.AWS, ID: orphan}, domain.ErrInvalid},
	} {
		if err := p.Retype(ctx, tc.ref, "pd-standard", "p/b/retype"); !errors.Is(err, tc.want) {
			t.Errorf("Retype(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Nothing was asked of Compute Engine, nor changed.
	if n := srv.Calls("compute.disks.get"); n != 0 {
		t.Errorf("%d disk reads, want none", n)
	}
	if m := methods(srv); len(m) != 0 {
		t.Errorf("mutations %v, want none", m)
	}
}
