package focus

import (
	_ "embed"
	"encoding/csv"
	"strings"
	"sync"
)

// gcpCategoryCSV maps a Google Cloud service.description to a FOCUS
// ServiceCategory. It is finopsfoundation/focus_converters'
// gcp_category_mapping.csv (MIT, see mapping/LICENSE-focus_converters),
// copied unchanged.
//
//go:embed mapping/gcp_category_mapping.csv
var gcpCategoryCSV string

// gcpCategoryExtra names services the focus_converters table lacks that
// Google Cloud exports do use (the Stackdriver names linger in older
// exports).
var gcpCategoryExtra = map[string]string{
	"Stackdriver Logging":            "Management and Governance",
	"Cloud Monitoring":               "Management and Governance",
	"Cloud Dataproc":                 "Analytics",
	"Cloud Datastore":                "Databases",
	"Cloud Firestore":                "Databases",
	"AlloyDB":                        "Databases",
	"Cloud Load Balancing":           "Networking",
	"Cloud NAT":                      "Networking",
	"Cloud Armor":                    "Security",
	"Identity and Access Management": "Identity",
	"Gemini API":                     "AI and Machine Learning",
}

// gcpCategories is the lookup table, keyed by the service name in lower
// case, parsed once.
var gcpCategories = sync.OnceValue(func() map[string]string {
	out := make(map[string]string, 160)
	recs, err := csv.NewReader(strings.NewReader(gcpCategoryCSV)).ReadAll()
	if err == nil {
		for i, rec := range recs {
			if i == 0 || len(rec) < 2 {
				continue // header: ConsumedService,ServiceCategory
			}
			out[strings.ToLower(strings.TrimSpace(rec[0]))] = strings.TrimSpace(rec[1])
		}
	}
	for k, v := range gcpCategoryExtra {
		out[strings.ToLower(k)] = v
	}
	return out
})

// gcpServiceCategory returns the FOCUS ServiceCategory of a Google Cloud
// service.description: "Other" for a service the table does not know, ""
// for no service.
func gcpServiceCategory(service string) string {
	if service == "" {
		return ""
	}
	if c, ok := gcpCategories()[strings.ToLower(service)]; ok {
		return c
	}
	return "Other"
}
