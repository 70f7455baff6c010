package awsfake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The SERVICE dimension values Cost Explorer reports for what the
// simulated estate bills: instance hours are "EC2 - Compute", EBS
// volumes and snapshots fall under "EC2 - Other", and public IPv4
// addresses have been charged by Amazon VPC since February 2024.
const (
	serviceEC2Compute = "Amazon Elastic Compute Cloud - Compute"
	serviceEC2Other   = "EC2 - Other"
	serviceVPC        = "Amazon Virtual Private Cloud"
)

// ceService returns the Cost Explorer service of a simulated cost row.
func ceService(row *domain.CostRow) string {
	switch row.ResourceType {
	case "Virtual Machine":
		return serviceEC2Compute
	case "IP Address":
		return serviceVPC
	}
	return serviceEC2Other
}

// ceUnit returns Cost Explorer's name of a usage unit.
func ceUnit(u string) string {
	switch u {
	case domain.UnitHour:
		return "Hrs"
	case domain.UnitGiBMonth:
		return "GB-Mo"
	case domain.UnitMonth:
		return "Mo"
	}
	return u
}

const (
	cePage         = 2000 // groups a page; AWS does not document its own
	ceDateLayout   = "2006-01-02"
	ceResourceDays = 14
)

// The metrics served: the cost metrics carry the simulated BilledCost
// (unblended, blended, net unblended) or EffectiveCost (amortized, net
// amortized); UsageQuantity the consumed quantity.
var ceMetrics = map[string]bool{"UnblendedCost": true, "BlendedCost": true, "NetUnblendedCost": true,
	"AmortizedCost": true, "NetAmortizedCost": true, "UsageQuantity": true}

// The dimensions served, in filters and group-bys.
var ceDimensions = map[string]func(*domain.CostRow) string{
	"LINKED_ACCOUNT": func(r *domain.CostRow) string { return r.SubAccountID },
	"SERVICE":        ceService,
	"REGION":         func(r *domain.CostRow) string { return r.RegionID },
	"AZ":             func(r *domain.CostRow) string { return r.AvailabilityZone },
	"RECORD_TYPE":    func(*domain.CostRow) string { return "Usage" },
	"RESOURCE_ID":    func(r *domain.CostRow) string { return r.ResourceID },
	"INSTANCE_TYPE": func(r *domain.CostRow) string {
		if ceService(r) == serviceEC2Compute {
			return r.SkuID
		}
		return "NoInstanceType"
	},
}

type ceInterval struct {
	Start string `json:"Start"`
	End   string `json:"End"`
}

type ceValues struct {
	Key          string   `json:"Key"`
	Values       []string `json:"Values"`
	MatchOptions []string `json:"MatchOptions,omitempty"`
}

type ceExpression struct {
	And            []ceExpression   `json:"And,omitempty"`
	Or             []ceExpression   `json:"Or,omitempty"`
	Not            *ceExpression    `json:"Not,omitempty"`
	Dimensions     *ceValues        `json:"Dimensions,omitempty"`
	Tags           *ceValues        `json:"Tags,omitempty"`
	CostCategories *json.RawMessage `json:"CostCategories,omitempty"`
}

type ceGroupDef struct {
	Type string `json:"Type"`
	Key  string `json:"Key"`
}

type ceRequest struct {
	TimePeriod     *ceInterval   `json:"TimePeriod"`
	Granularity    string        `json:"Granularity"`
	Filter         *ceExpression `json:"Filter"`
	Metrics        []string      `json:"Metrics"`
	GroupBy        []ceGroupDef  `json:"GroupBy"`
	BillingViewArn string        `json:"BillingViewArn,omitempty"`
	NextPageToken  string        `json:"NextPageToken,omitempty"`
}

type ceMetricValue struct {
	Amount string `json:"Amount"`
	Unit   string `json:"Unit"`
}

type ceGroup struct {
	Keys    []string                 `json:"Keys"`
	Metrics map[string]ceMetricValue `json:"Metrics"`
}

type ceResult struct {
	TimePeriod ceInterval               `json:"TimePeriod"`
	Total      map[string]ceMetricValue `json:"Total"`
	Groups     []ceGroup                `json:"Groups"`
	Estimated  bool                     `json:"Estimated"`
}

// ceError is a refusal with its AWS error code.
type ceError struct {
	status        int
	code, message string
}

func (e *ceError) Error() string { return e.code + ": " + e.message }

func ceInvalid(msg string) *ceError {
	return &ceError{http.StatusBadRequest, "ValidationException", msg}
}

// serveCostExplorer answers GetCostAndUsage and
// GetCostAndUsageWithResources over AWS JSON 1.1 from the simulated cost
// rows of the caller's account and, when the caller is their payer, of
// its linked accounts.
func (s *Server) serveCostExplorer(w http.ResponseWriter, r *http.Request, rc *reqContext) {
	if r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSInsightsIndexService.") {
		s.fail(w, rc, http.StatusBadRequest, "SerializationException", "awsfake: Cost Explorer is served over AWS JSON 1.1 (X-Amz-Target: AWSInsightsIndexService.<Op>)")
		return
	}
	withResources := false
	switch rc.op {
	case "GetCostAndUsage":
	case "GetCostAndUsageWithResources":
		withResources = true
	default:
		s.fail(w, rc, http.StatusBadRequest, "UnknownOperationException", "awsfake: ce "+rc.op+" is not served")
		return
	}
	var in ceRequest
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&in); err != nil {
		s.fail(w, rc, http.StatusBadRequest, "SerializationException", "awsfake: body: "+err.Error())
		return
	}
	out, err := s.costAndUsage(r.Context(), rc, &in, withResources)
	if err != nil {
		var ce *ceError
		switch {
		case errors.As(err, &ce):
			s.fail(w, rc, ce.status, ce.code, ce.message)
		case errors.Is(err, domain.ErrPermission):
			s.fail(w, rc, http.StatusBadRequest, "AccessDeniedException", err.Error())
		case errors.Is(err, domain.ErrThrottled):
			s.fail(w, rc, http.StatusBadRequest, "LimitExceededException", "Rate exceeded")
		default:
			s.fail(w, rc, http.StatusInternalServerError, "InternalFailure", err.Error())
		}
		return
	}
	s.ok(rc)
	writeJSON(w, rc, out)
}

func (s *Server) now() time.Time {
	if s.opts.Data.Now != nil {
		return s.opts.Data.Now().UTC()
	}
	return time.Now().UTC()
}

// costAndUsage validates a request as Cost Explorer does and computes
// its page.
func (s *Server) costAndUsage(ctx context.Context, rc *reqContext, in *ceRequest, withResources bool) (map[string]any, error) {
	if withResources && !s.opts.Data.ResourceLevelCost {
		return nil, &ceError{http.StatusBadRequest, "DataUnavailableException",
			"Resource-level data is not enabled for this account; opt in to it in the Cost Explorer preferences"}
	}
	if in.TimePeriod == nil {
		return nil, ceInvalid("TimePeriod is required")
	}
	switch in.Granularity {
	case "DAILY", "MONTHLY":
	case "HOURLY":
		return nil, &ceError{http.StatusBadRequest, "DataUnavailableException", "Hourly granularity is not enabled for this account"}
	default:
		return nil, ceInvalid("Granularity must be DAILY, MONTHLY or HOURLY")
	}
	start, err1 := time.Parse(ceDateLayout, in.TimePeriod.Start)
	end, err2 := time.Parse(ceDateLayout, in.TimePeriod.End)
	if err1 != nil || err2 != nil {
		return nil, ceInvalid("Start and End of TimePeriod must be dates of the form YYYY-MM-DD for " + in.Granularity + " granularity")
	}
	if !start.Before(end) {
		return nil, ceInvalid("Start date (and hour) should be before end date (and hour)")
	}
	today := s.now().Truncate(24 * time.Hour)
	if start.Before(today.AddDate(0, -14, 0)) {
		return nil, &ceError{http.StatusBadRequest, "BillExpirationException", "Cost and usage data older than 14 months is not available"}
	}
	if withResources && start.Before(today.AddDate(0, 0, -ceResourceDays)) {
		return nil, ceInvalid("Resource-level data is only available for the last 14 days; the start date " + in.TimePeriod.Start + " is earlier")
	}
	if len(in.Metrics) == 0 {
		return nil, ceInvalid("Metrics is required")
	}
	for _, m := range in.Metrics {
		if !ceMetrics[m] {
			return nil, ceInvalid("Invalid metric: " + m)
		}
	}
	if len(in.GroupBy) > 2 {
		return nil, ceInvalid("GroupBy must have at most 2 elements")
	}
	for i, g := range in.GroupBy {
		switch {
		case g.Type == "DIMENSION" && ceDimensions[g.Key] != nil:
			if g.Key == "RESOURCE_ID" && !withResources {
				return nil, ceInvalid("Group by RESOURCE_ID is only available in GetCostAndUsageWithResources")
			}
		case g.Type == "TAG" && g.Key != "":
		case g.Type == "DIMENSION":
			return nil, ceInvalid("awsfake: group by dimension " + g.Key + " is not served")
		default:
			return nil, ceInvalid("Invalid group type " + g.Type + " (DIMENSION, TAG or COST_CATEGORY)")
		}
		if slices.ContainsFunc(in.GroupBy[:i], func(o ceGroupDef) bool { return o == g }) {
			return nil, ceInvalid("Duplicate group by " + g.Type + " " + g.Key)
		}
	}
	if in.Filter != nil {
		if err := ceCheck(in.Filter, withResources); err != nil {
			return nil, err
		}
	}
	if withResources {
		if in.Filter == nil || !cePinsService(in.Filter, serviceEC2Compute) {
			return nil, ceInvalid("GetCostAndUsageWithResources requires the filter SERVICE = " + serviceEC2Compute)
		}
		if !ceGroupsOrFilters(in, "RESOURCE_ID") {
			return nil, ceInvalid("GetCostAndUsageWithResources requires a group by or a filter on RESOURCE_ID")
		}
	}
	token := in.NextPageToken
	in.NextPageToken = ""
	canonical, _ := json.Marshal(struct {
		Op string
		*ceRequest
	}{rc.op, in})
	digest := dataDigest(string(canonical))

	// The periods, then the rows of each period and group.
	type period struct{ start, end time.Time }
	var periods []period
	for t := start; t.Before(end); {
		next := t.AddDate(0, 0, 1)
		if in.Granularity == "MONTHLY" {
			next = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		}
		next = ceMinT(next, end)
		periods = append(periods, period{t, next})
		t = next
	}
	type acc struct {
		keys   []string
		micros map[string]int64
		qty    float64
		units  map[string]bool
	}
	groups := make([]map[string]*acc, len(periods))
	for i := range groups {
		groups[i] = map[string]*acc{}
	}
	accounts, err := s.ceAccounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		err := s.cloud.CostRows(ctx, a, collect.Window{Start: start, End: end}, func(rows []domain.CostRow) error {
			for i := range rows {
				row := &rows[i]
				if row.SubAccountID != rc.account && row.BillingAccountID != rc.account {
					continue
				}
				if in.Filter != nil && !ceMatches(in.Filter, row) {
					continue
				}
				if withResources && row.ChargePeriodStart.Before(s.opts.Data.ResourceLevelSince) {
					continue
				}
				p, ok := slices.BinarySearchFunc(periods, row.ChargePeriodStart, func(p period, t time.Time) int {
					switch {
					case !t.Before(p.end):
						return -1
					case t.Before(p.start):
						return 1
					}
					return 0
				})
				if !ok {
					continue
				}
				keys := make([]string, len(in.GroupBy))
				for j, g := range in.GroupBy {
					if g.Type == "TAG" {
						keys[j] = g.Key + "$" + row.Tags[g.Key]
					} else {
						keys[j] = ceDimensions[g.Key](row)
					}
				}
				k := strings.Join(keys, "\x00")
				a, ok := groups[p][k]
				if !ok {
					a = &acc{keys: keys, micros: map[string]int64{}, units: map[string]bool{}}
					groups[p][k] = a
				}
				a.micros["UnblendedCost"] += row.BilledCost.Micros
				a.micros["AmortizedCost"] += row.EffectiveCost.Micros
				a.qty += row.ConsumedQuantity
				a.units[ceUnit(row.ConsumedUnit)] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	metrics := func(a *acc) map[string]ceMetricValue {
		out := map[string]ceMetricValue{}
		for _, m := range in.Metrics {
			switch m {
			case "UsageQuantity":
				unit := "N/A"
				if len(a.units) == 1 {
					for u := range a.units {
						unit = u
					}
				}
				out[m] = ceMetricValue{strconv.FormatFloat(a.qty, 'f', -1, 64), unit}
			case "AmortizedCost", "NetAmortizedCost":
				out[m] = ceMetricValue{ceAmount(a.micros["AmortizedCost"]), "USD"}
			default:
				out[m] = ceMetricValue{ceAmount(a.micros["UnblendedCost"]), "USD"}
			}
		}
		return out
	}
	// Flatten into (period, group) entries, a period without groups
	// being one entry, and cut the page.
	type entry struct {
		p int
		g *acc
	}
	var entries []entry
	for i := range periods {
		keys := make([]string, 0, len(groups[i]))
		for k := range groups[i] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(in.GroupBy) == 0 || len(keys) == 0 {
			var total *acc
			if len(keys) == 1 {
				total = groups[i][keys[0]]
			}
			entries = append(entries, entry{i, total})
			continue
		}
		for _, k := range keys {
			entries = append(entries, entry{i, groups[i][k]})
		}
	}
	off := 0
	if token != "" {
		var ok bool
		if off, ok = parseDataToken(token, digest); !ok || off >= len(entries) {
			return nil, &ceError{http.StatusBadRequest, "InvalidNextTokenException", "The pagination token is invalid"}
		}
	}
	firstOfMonth := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	endOff := min(off+dataPageSize(cePage, s.opts.Data.CostPageSize), len(entries))
	results := []ceResult{}
	for _, e := range entries[off:endOff] {
		p := periods[e.p]
		if n := len(results); n == 0 || results[n-1].TimePeriod.Start != p.start.Format(ceDateLayout) {
			results = append(results, ceResult{TimePeriod: ceInterval{p.start.Format(ceDateLayout), p.end.Format(ceDateLayout)},
				Total: map[string]ceMetricValue{}, Groups: []ceGroup{}, Estimated: !p.start.Before(firstOfMonth)})
		}
		r := &results[len(results)-1]
		switch {
		case len(in.GroupBy) == 0:
			a := e.g
			if a == nil {
				a = &acc{micros: map[string]int64{}, units: map[string]bool{}}
			}
			r.Total = metrics(a)
		case e.g != nil:
			r.Groups = append(r.Groups, ceGroup{Keys: e.g.keys, Metrics: metrics(e.g)})
		}
	}
	groupDefs := in.GroupBy
	if groupDefs == nil {
		groupDefs = []ceGroupDef{}
	}
	out := map[string]any{"GroupDefinitions": groupDefs, "ResultsByTime": results, "DimensionValueAttributes": []any{}}
	if endOff < len(entries) {
		out["NextPageToken"] = dataToken(endOff, digest)
	}
	return out, nil
}

// ceAccounts lists the accounts of the simulated estate.
func (s *Server) ceAccounts(ctx context.Context) ([]string, error) {
	scopes, err := s.cloud.Scopes(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sc := range scopes {
		if !slices.Contains(out, sc.Account) {
			out = append(out, sc.Account)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ceAmount formats micro-dollars as Cost Explorer writes amounts, with
// ten decimals.
func ceAmount(micros int64) string { return domain.USD(micros).Decimal() + "0000" }

// ceCheck validates a filter expression: exactly one operator
// per level, and only dimensions the fake serves.
func ceCheck(e *ceExpression, withResources bool) error {
	n := 0
	for _, set := range []bool{len(e.And) > 0, len(e.Or) > 0, e.Not != nil, e.Dimensions != nil, e.Tags != nil, e.CostCategories != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return ceInvalid("Expression must have exactly one of And, Or, Not, Dimensions, Tags or CostCategories")
	}
	for i := range e.And {
		if err := ceCheck(&e.And[i], withResources); err != nil {
			return err
		}
	}
	for i := range e.Or {
		if err := ceCheck(&e.Or[i], withResources); err != nil {
			return err
		}
	}
	switch {
	case e.Not != nil:
		return ceCheck(e.Not, withResources)
	case e.CostCategories != nil:
		return ceInvalid("awsfake: cost category filters are not served")
	case e.Dimensions != nil:
		d := e.Dimensions
		if ceDimensions[d.Key] == nil {
			return ceInvalid("awsfake: filter on dimension " + d.Key + " is not served")
		}
		if d.Key == "RESOURCE_ID" && !withResources {
			return ceInvalid("Filter on RESOURCE_ID is only available in GetCostAndUsageWithResources")
		}
		if len(d.Values) == 0 {
			return ceInvalid("Dimensions " + d.Key + " needs at least one value")
		}
		for _, o := range d.MatchOptions {
			if o != "EQUALS" && o != "CASE_SENSITIVE" {
				return ceInvalid("MatchOptions of a dimension must be EQUALS or CASE_SENSITIVE, not " + o)
			}
		}
	case e.Tags != nil:
		if e.Tags.Key == "" {
			return ceInvalid("Tags needs a Key")
		}
	}
	return nil
}

// ceMatches evaluates a filter on a row.
func ceMatches(e *ceExpression, row *domain.CostRow) bool {
	switch {
	case len(e.And) > 0:
		for i := range e.And {
			if !ceMatches(&e.And[i], row) {
				return false
			}
		}
		return true
	case len(e.Or) > 0:
		for i := range e.Or {
			if ceMatches(&e.Or[i], row) {
				return true
			}
		}
		return false
	case e.Not != nil:
		return !ceMatches(e.Not, row)
	case e.Dimensions != nil:
		return slices.Contains(e.Dimensions.Values, ceDimensions[e.Dimensions.Key](row))
	case e.Tags != nil:
		v, ok := row.Tags[e.Tags.Key]
		if slices.Contains(e.Tags.MatchOptions, "ABSENT") && !ok {
			return true
		}
		return ok && (len(e.Tags.Values) == 0 || slices.Contains(e.Tags.Values, v))
	}
	return false
}

// cePinsService reports whether a filter restricts SERVICE to exactly
// service, at its top or in a top-level And.
func cePinsService(e *ceExpression, service string) bool {
	if d := e.Dimensions; d != nil {
		return d.Key == "SERVICE" && len(d.Values) == 1 && d.Values[0] == service
	}
	return slices.ContainsFunc(e.And, func(x ceExpression) bool { return cePinsService(&x, service) })
}

// ceGroupsOrFilters reports whether a request groups or filters by key.
func ceGroupsOrFilters(in *ceRequest, key string) bool {
	if slices.ContainsFunc(in.GroupBy, func(g ceGroupDef) bool { return g.Type == "DIMENSION" && g.Key == key }) {
		return true
	}
	var walk func(e *ceExpression) bool
	walk = func(e *ceExpression) bool {
		if e == nil {
			return false
		}
		if e.Dimensions != nil && e.Dimensions.Key == key {
			return true
		}
		for i := range e.And {
			if walk(&e.And[i]) {
				return true
			}
		}
		for i := range e.Or {
			if walk(&e.Or[i]) {
				return true
			}
		}
		return walk(e.Not)
	}
	return walk(in.Filter)
}

func ceMinT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
