package domain

import (
	"fmt"
	"strings"
	"time"
)

// Cloud names a cloud provider.
type Cloud string

// The clouds cloudtrim knows.
const (
	AWS   Cloud = "aws"
	Azure Cloud = "azure"
	GCP   Cloud = "gcp"
)

// Clouds lists every supported cloud in a stable order.
var Clouds = []Cloud{AWS, Azure, GCP}

// ParseCloud validates a cloud name.
func ParseCloud(s string) (Cloud, error) {
	switch c := Cloud(strings.ToLower(strings.TrimSpace(s))); c {
	case AWS, Azure, GCP:
		return c, nil
	}
	return "", fmt.Errorf("%w: unknown cloud %q (want aws, azure or gcp)", ErrInvalid, s)
}

// Kind is the kind of a resource.
type Kind string

// The resource kinds cloudtrim collects.
const (
	KindVM       Kind = "vm"
	KindDisk     Kind = "disk"
	KindIP       Kind = "ip"
	KindSnapshot Kind = "snapshot"
	// KindBucket is an object store: an S3 bucket, a Cloud Storage
	// bucket, an Azure storage account's blob service.
	KindBucket Kind = "bucket"
)

// Resource states, normalised across clouds.
const (
	StateRunning    = "running"
	StateStopped    = "stopped" // deallocated / terminated billing for compute
	StateAvailable  = "available"
	StateInUse      = "in-use"
	StateDeleted    = "deleted"
	StateUnknown    = "unknown"
	StateReleased   = "released"
	StateAssociated = "associated"
	StateScheduled  = "scheduled" // started and stopped on a weekly schedule
	// StateStoppedAllocated is a VM stopped without releasing its
	// compute (Azure's "Stopped", not "Deallocated"): it still bills for
	// its size.
	StateStoppedAllocated = "stopped-allocated"
)

// Resource is one thing in a cloud account that costs money.
//
// Incomplete is non-empty when part of the resource could not be read
// (for example its tags); such a resource is never acted upon.
type Resource struct {
	Cloud      Cloud             `json:"cloud"`
	Account    string            `json:"account"` // AWS account, Azure subscription, GCP project
	Region     string            `json:"region"`
	Kind       Kind              `json:"kind"`
	ID         string            `json:"id"`
	Name       string            `json:"name,omitempty"`
	SKU        string            `json:"sku,omitempty"` // instance type, VM size, machine type, disk type
	State      string            `json:"state"`
	Tags       map[string]string `json:"tags,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	SizeGiB    int64             `json:"size_gib,omitempty"`    // disks and snapshots
	AttachedTo string            `json:"attached_to,omitempty"` // disk or IP → VM ID; snapshot → source disk
	// Tiering is a bucket's lifecycle transitions: TieringNone, the rule
	// cloudtrim set (TierRule.String), or TieringCustom. Empty for
	// other kinds.
	Tiering    string `json:"tiering,omitempty"`
	Incomplete string `json:"incomplete,omitempty"`
}

// Ref returns the reference that names r.
func (r Resource) Ref() ResourceRef {
	return ResourceRef{Cloud: r.Cloud, Account: r.Account, Region: r.Region, Kind: r.Kind, ID: r.ID}
}

// Observed returns the properties of r that an action is bound to.
func (r Resource) Observed() ResourceState {
	return ResourceState{SKU: r.SKU, State: r.State, SizeGiB: r.SizeGiB, AttachedTo: r.AttachedTo, Tiering: r.Tiering}
}

// Validate reports the first missing or malformed field of r.
func (r Resource) Validate() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: resource has no id", ErrInvalid)
	case r.Cloud != AWS && r.Cloud != Azure && r.Cloud != GCP:
		return fmt.Errorf("%w: resource %s: unknown cloud %q", ErrInvalid, r.ID, r.Cloud)
	case r.Account == "":
		return fmt.Errorf("%w: resource %s: no account", ErrInvalid, r.ID)
	case r.Kind == "":
		return fmt.Errorf("%w: resource %s: no kind", ErrInvalid, r.ID)
	}
	return nil
}

// ResourceRef names a resource without describing it.
type ResourceRef struct {
	Cloud   Cloud  `json:"cloud"`
	Account string `json:"account"`
	Region  string `json:"region"`
	Kind    Kind   `json:"kind"`
	ID      string `json:"id"`
}

func (r ResourceRef) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", r.Cloud, r.Account, r.Region, r.ID)
}

// ResourceState is the part of a resource an action reads before and
// changes after. The actuator compares the live resource with an
// action's Before state and refuses on any difference.
type ResourceState struct {
	SKU        string `json:"sku,omitempty"`
	State      string `json:"state,omitempty"`
	SizeGiB    int64  `json:"size_gib,omitempty"`
	AttachedTo string `json:"attached_to,omitempty"`
	Tiering    string `json:"tiering,omitempty"`
}

// Diff lists the fields in which live differs from s, or nil when they
// match. Empty fields of s are not compared.
func (s ResourceState) Diff(live ResourceState) []string {
	var d []string
	if s.SKU != "" && s.SKU != live.SKU {
		d = append(d, fmt.Sprintf("sku %q, approved %q", live.SKU, s.SKU))
	}
	if s.State != "" && s.State != live.State {
		d = append(d, fmt.Sprintf("state %q, approved %q", live.State, s.State))
	}
	if s.SizeGiB != 0 && s.SizeGiB != live.SizeGiB {
		d = append(d, fmt.Sprintf("size %d GiB, approved %d GiB", live.SizeGiB, s.SizeGiB))
	}
	if s.Tiering != "" && s.Tiering != live.Tiering {
		d = append(d, fmt.Sprintf("lifecycle transitions %q, approved %q", live.Tiering, s.Tiering))
	}
	if s.AttachedTo != live.AttachedTo {
		d = append(d, fmt.Sprintf("attached to %q, approved %q", live.AttachedTo, s.AttachedTo))
	}
	return d
}

// ResourceKey returns the form of a resource ID that inventory and bills
// agree on: bills spell IDs differently from inventory APIs. AWS ARNs
// become the ID after their last "/" ("arn:aws:ec2:…:instance/i-0abc" →
// "i-0abc"); Azure IDs are compared without case; Google Cloud resource
// names lose their service prefix ("//compute.googleapis.com/projects/…"
// → "projects/…").
func ResourceKey(cloud Cloud, id string) string {
	switch cloud {
	case AWS:
		if strings.HasPrefix(id, "arn:") {
			if i := strings.LastIndexByte(id, '/'); i >= 0 {
				return id[i+1:]
			}
			if i := strings.LastIndexByte(id, ':'); i >= 0 {
				return id[i+1:]
			}
		}
	case Azure:
		return strings.ToLower(id)
	case GCP:
		for _, p := range []string{"//compute.googleapis.com/", "https://www.googleapis.com/compute/v1/", "https://compute.googleapis.com/compute/v1/"} {
			if strings.HasPrefix(id, p) {
				return id[len(p):]
			}
		}
	}
	return id
}
