package pricing

import (
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Family returns the family of a VM size: the sizes of one family share
// a processor and a memory-to-vCPU ratio and differ only in how many
// vCPUs they have, so resizing within a family changes nothing else.
//
//   - AWS: the part before the dot, lower-cased: "m5" for m5.xlarge,
//     "m7i-flex" for m7i-flex.large.
//   - Azure: the size name without its "Standard_" (or "Basic_") prefix,
//     its vCPU count (and constrained-core count) and its underscores,
//     keeping the case of the letters: "Dsv5" for Standard_D4s_v5,
//     "Esv5" for Standard_E4-2s_v5, "DSv2" for Standard_DS2_v2,
//     "NCadsA100v4" for Standard_NC24ads_A100_v4. The first B-series
//     (Standard_B1s, Standard_B2ms ...) is one family, "Bs".
//   - GCP: the machine type without its trailing vCPU count and its
//     "-lssd" or "-metal" suffix, lower-cased: "n2-standard" for
//     n2-standard-8 and c3-standard-8-lssd. Shared-core types are
//     "<series>-shared-core": "e2-shared-core" for e2-micro.
//
// Family returns "" for a name it does not recognise as a VM size. Azure
// families keep their case, so compare them with strings.EqualFold.
func Family(cloud domain.Cloud, sku string) string {
	switch cloud {
	case domain.AWS:
		f, _, ok := strings.Cut(strings.ToLower(sku), ".")
		if !ok || f == "" {
			return ""
		}
		return f
	case domain.Azure:
		return azureFamily(sku)
	case domain.GCP:
		return gcpFamily(strings.ToLower(sku))
	}
	return ""
}

func azureFamily(sku string) string {
	var s string
	for _, prefix := range []string{"Standard_", "Basic_"} {
		if len(sku) > len(prefix) && strings.EqualFold(sku[:len(prefix)], prefix) {
			s = sku[len(prefix):]
			break
		}
	}
	i := 0
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if i == 0 || j == i {
		return ""
	}
	if j+1 < len(s) && s[j] == '-' && isDigit(s[j+1]) { // constrained vCPUs: E4-2s_v5
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	series, rest := s[:i], s[j:]
	if strings.EqualFold(series, "B") && !strings.Contains(rest, "_") {
		return series + "s"
	}
	return series + strings.ReplaceAll(rest, "_", "")
}

func gcpFamily(sku string) string {
	parts := strings.Split(sku, "-")
	for len(parts) > 1 && (parts[len(parts)-1] == "lssd" || parts[len(parts)-1] == "metal") {
		parts = parts[:len(parts)-1]
	}
	if len(parts) < 2 || !strings.ContainsAny(parts[0], "0123456789") { // a series: e2, n2d, c4a
		return ""
	}
	switch last := parts[len(parts)-1]; {
	case last == "micro" || last == "small" || last == "medium":
		return parts[0] + "-shared-core"
	case last != "" && isDigit(last[0]):
		for len(parts) > 1 && parts[len(parts)-1] != "" && isDigit(parts[len(parts)-1][0]) {
			parts = parts[:len(parts)-1]
		}
	}
	return strings.Join(parts, "-")
}

func isLetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }
func isDigit(b byte) bool  { return '0' <= b && b <= '9' }
