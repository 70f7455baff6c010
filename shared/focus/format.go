package focus

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Format names a source format: its family (FamilyFOCUS, FamilyAWSCUR,
// ...), the version the header showed, and the container it was read
// from (ContainerCSV, ContainerParquet, ContainerJSONLines).
type Format struct {
	Family    string `json:"family"`
	Version   string `json:"version"`
	Container string `json:"container,omitempty"`
}

// String returns e.g. "aws-cur 2.0 (parquet)".
func (f Format) String() string {
	s := f.Family
	if f.Version != "" {
		s += " " + f.Version
	}
	if f.Container != "" {
		s += " (" + f.Container + ")"
	}
	return s
}

// Format families.
const (
	FamilyFOCUS  = "focus"
	FamilyAWSCUR = "aws-cur"
	FamilyAzure  = "azure-cost"
	FamilyGCP    = "gcp-billing"
)

// Containers: how a source's records were stored.
const (
	ContainerCSV       = "csv"
	ContainerParquet   = "parquet"
	ContainerJSONLines = "jsonl"
)

// Mapper converts the records of one source format into FOCUS rows. A
// Mapper is built for one header and used by one goroutine.
type Mapper interface {
	// Format names the format and version the mapper reads.
	Format() Format
	// Map fills row, which the caller has zeroed, from the record f
	// holds. Problems go to f (through its parsers or f.Problem); a row
	// with any problem is rejected by the caller. Map sets XCloud, or
	// leaves it empty for a provider cloudtrim does not manage.
	Map(f *Fields, row *domain.CostRow)
}

// Detector recognises one format family from a header.
type Detector struct {
	Family string
	// Match scores how well h fits the family: 0 means not at all; the
	// detector with the highest score reads the source.
	Match func(h *Header) int
	// New builds the mapper for h, or returns an error naming the
	// required column h lacks.
	New func(h *Header) (Mapper, error)
}

// Detectors lists the format families this package reads, in the order
// ties are broken.
func Detectors() []Detector {
	return []Detector{focusDetector, curDetector, azureDetector, gcpDetector}
}

// Detect picks the mapper for a header: the family whose detector
// scores it highest. A header no family matches is domain.ErrUnsupported
// naming the first columns seen.
func Detect(h *Header) (Mapper, error) {
	type scored struct {
		d     Detector
		score int
	}
	var cands []scored
	for _, d := range Detectors() {
		if s := d.Match(h); s > 0 {
			cands = append(cands, scored{d, s})
		}
	}
	if len(cands) == 0 {
		shown := h.Names
		if len(shown) > 8 {
			shown = shown[:8]
		}
		return nil, fmt.Errorf("%w: no billing format has the columns %s (%d in all): not FOCUS, an AWS Cost and Usage Report, an Azure cost export or a Google Cloud billing export",
			domain.ErrUnsupported, strings.Join(shown, ", "), len(h.Names))
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	m, err := cands[0].d.New(h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cands[0].d.Family, err)
	}
	return m, nil
}

// MissingColumn is the error a detector's New returns when a column the
// format requires is absent.
func MissingColumn(family, version string, names ...string) error {
	return fmt.Errorf("%w: %s %s export lacks the required column %s", domain.ErrInvalid, family, version, strings.Join(names, " / "))
}

// CloudOf returns the cloud of a FOCUS ProviderName, or "" for a
// provider cloudtrim does not manage.
func CloudOf(provider string) domain.Cloud {
	switch c := Canon(provider); {
	case c == "aws" || strings.HasPrefix(c, "amazon"):
		return domain.AWS
	case c == "azure" || strings.HasPrefix(c, "microsoft"):
		return domain.Azure
	case c == "gcp" || strings.HasPrefix(c, "google"):
		return domain.GCP
	}
	return ""
}
