package focus

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"strings"
	"sync"
)

// awsCategoryCSV maps AWS product codes (lineItem/ProductCode,
// product/servicecode) to FOCUS ServiceCategory. It is
// mapping/aws_category_mapping.csv of finopsfoundation/focus_converters
// (MIT, see mapping/LICENSE-focus_converters).
//
//go:embed mapping/aws_category_mapping.csv
var awsCategoryCSV []byte

// awsCategories is the parsed table, keyed by the product code as written
// and by its canonical form (Canon), built once.
var awsCategories = sync.OnceValue(func() map[string]string {
	r := csv.NewReader(bytes.NewReader(awsCategoryCSV))
	recs, err := r.ReadAll()
	if err != nil {
		// The file is embedded and tested; an unreadable copy is a
		// build mistake that TestAWSCategoryTable reports.
		return map[string]string{}
	}
	m := make(map[string]string, 2*len(recs))
	for i, rec := range recs {
		if i == 0 || len(rec) < 2 {
			continue
		}
		// A few names end with "*" upstream ("Amazon EC2 Spot Instances*").
		code := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rec[0]), "*"))
		cat := strings.TrimSpace(rec[1])
		if code == "" || cat == "" {
			continue
		}
		if _, dup := m[code]; !dup {
			m[code] = cat
		}
		if c := Canon(code); c != "" {
			if _, dup := m[c]; !dup {
				m[c] = cat
			}
		}
	}
	return m
})

// awsServiceCategory returns the FOCUS ServiceCategory of the first of
// codes the table knows (tried as written, then canonical), or "Other".
func awsServiceCategory(codes ...string) string {
	m := awsCategories()
	for _, c := range codes {
		if c == "" {
			continue
		}
		if cat, ok := m[c]; ok {
			return cat
		}
	}
	for _, c := range codes {
		if c == "" {
			continue
		}
		if cat, ok := m[Canon(c)]; ok {
			return cat
		}
	}
	return "Other"
}
