package focus

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"strings"
	"sync"
)

// The Azure lookup tables, embedded and parsed once.
//
// azure_regions.csv and azure_services.csv are src/open-data/Regions.csv
// and src/open-data/Services.csv of microsoft/finops-toolkit (MIT, see
// mapping/LICENSE-finops-toolkit); azure_category_mapping.csv is the
// ConsumedService to ServiceCategory table of finopsfoundation/
// focus_converters (MIT, see mapping/LICENSE-focus_converters).

//go:embed mapping/azure_regions.csv
var azureRegionsCSV []byte

//go:embed mapping/azure_services.csv
var azureServicesCSV []byte

//go:embed mapping/azure_category_mapping.csv
var azureCategoryCSV []byte

// azureRegion is a normalised Azure region: the ARM name ("eastus2") and
// the display name ("East US 2").
type azureRegion struct{ id, name string }

// azureService is what the services table says about a consumed service
// and resource type. name may be empty when only the category is known.
type azureService struct{ name, category, subcategory string }

// azureServiceTable answers ServiceName and ServiceCategory questions,
// most specific first.
type azureServiceTable struct {
	// byPair is keyed by consumed service + "|" + resource type, both
	// lower case.
	byPair map[string]azureService
	// byType holds the resource types that name one service whatever the
	// consumed service.
	byType map[string]azureService
	// byConsumed holds, per consumed service, the service when all its
	// rows agree on it, or the category alone when only that agrees.
	byConsumed map[string]azureService
	// categories is the focus_converters ConsumedService -> category table.
	categories map[string]string
}

// readTable parses an embedded CSV; an unreadable copy is a build mistake
// that TestAzureTables reports, so it reads as empty here.
func azureReadTable(b []byte) [][]string {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) == 0 {
		return nil
	}
	return recs[1:]
}

var azureRegions = sync.OnceValue(func() map[string]azureRegion {
	recs := azureReadTable(azureRegionsCSV)
	m := make(map[string]azureRegion, len(recs))
	for _, r := range recs {
		if len(r) < 3 || r[0] == "" || r[1] == "" {
			continue
		}
		k := strings.ToLower(strings.TrimSpace(r[0]))
		if _, dup := m[k]; !dup {
			m[k] = azureRegion{id: r[1], name: r[2]}
		}
	}
	return m
})

var azureServices = sync.OnceValue(func() *azureServiceTable {
	t := &azureServiceTable{byPair: map[string]azureService{}, byType: map[string]azureService{},
		byConsumed: map[string]azureService{}, categories: map[string]string{}}
	ambiguousType := map[string]bool{}
	type agree struct {
		svc              azureService
		nameOK, catOK    bool
		subcategoryAgree bool
	}
	consumed := map[string]*agree{}
	// ConsumedService,ResourceType,ServiceName,ServiceCategory,ServiceSubcategory,...
	for _, r := range azureReadTable(azureServicesCSV) {
		if len(r) < 5 {
			continue
		}
		cs, rt := strings.ToLower(strings.TrimSpace(r[0])), strings.ToLower(strings.TrimSpace(r[1]))
		s := azureService{name: r[2], category: r[3], subcategory: r[4]}
		if _, dup := t.byPair[cs+"|"+rt]; !dup {
			t.byPair[cs+"|"+rt] = s
		}
		if rt != "" && !ambiguousType[rt] {
			if old, seen := t.byType[rt]; seen && old != s {
				delete(t.byType, rt)
				ambiguousType[rt] = true
			} else {
				t.byType[rt] = s
			}
		}
		if cs == "" {
			continue
		}
		a := consumed[cs]
		if a == nil {
			consumed[cs] = &agree{svc: s, nameOK: true, catOK: true, subcategoryAgree: true}
			continue
		}
		a.nameOK = a.nameOK && a.svc.name == s.name
		a.catOK = a.catOK && a.svc.category == s.category
		a.subcategoryAgree = a.subcategoryAgree && a.svc.subcategory == s.subcategory
	}
	for cs, a := range consumed {
		switch {
		case a.nameOK && a.catOK:
			s := a.svc
			if !a.subcategoryAgree {
				s.subcategory = ""
			}
			t.byConsumed[cs] = s
		case a.catOK:
			t.byConsumed[cs] = azureService{category: a.svc.category}
		}
	}
	for _, r := range azureReadTable(azureCategoryCSV) {
		if len(r) < 2 || r[0] == "" || r[1] == "" {
			continue
		}
		t.categories[strings.ToLower(strings.TrimSpace(r[0]))] = strings.TrimSpace(r[1])
	}
	return t
})

// lookup returns what the tables know about a consumed service and a
// resource type (both lower case): the (consumed service, resource type)
// pair of Services.csv, else the resource type alone when it names one
// service, else the consumed service alone when its rows agree, else the
// focus_converters category of the consumed service. ok is false when
// nothing is known.
func (t *azureServiceTable) lookup(consumed, resourceType string) (azureService, bool) {
	if resourceType != "" {
		if s, ok := t.byPair[consumed+"|"+resourceType]; ok {
			return s, true
		}
		if s, ok := t.byType[resourceType]; ok {
			return s, true
		}
	}
	if consumed == "" {
		return azureService{}, false
	}
	if s, ok := t.byConsumed[consumed]; ok {
		return s, true
	}
	if c, ok := t.categories[consumed]; ok {
		return azureService{category: c}, true
	}
	return azureService{}, false
}

// lookupRegion normalises a ResourceLocation spelling ("US East 2",
// "eastus2", "EastUS2"): the table's entry for it in lower case, then
// without spaces, hyphens and underscores. ok is false for a spelling the
// table lacks.
func azureLookupRegion(location string) (azureRegion, bool) {
	m := azureRegions()
	k := strings.ToLower(strings.TrimSpace(location))
	if r, ok := m[k]; ok {
		return r, true
	}
	k = azureSqueeze(k)
	r, ok := m[k]
	return r, ok
}

// squeeze removes spaces, hyphens and underscores.
func azureSqueeze(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_':
			return -1
		}
		return r
	}, s)
}
