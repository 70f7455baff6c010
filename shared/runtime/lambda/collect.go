package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// MaxCollectDays is the most days of history a collection may ask for.
const MaxCollectDays = 90

// CollectRequest is what one scheduled invocation of a collector asks
// for.
type CollectRequest struct {
	// Cloud is the collector's cloud, from the function's name.
	Cloud domain.Cloud `json:"cloud"`
	// Days of utilization and cost history to read, 1 to MaxCollectDays;
	// 0 leaves it to the collector's configuration.
	Days int `json:"days,omitempty"`
	// Regions to read; empty reads every region the collector is
	// configured for.
	Regions []string `json:"regions,omitempty"`
	// Source and EventID identify the scheduled event ("aws.scheduler",
	// "aws.events"); empty for a plain JSON object.
	Source  string `json:"source,omitempty"`
	EventID string `json:"event_id,omitempty"`
	// ScheduledAt is the event's time; zero when it carried none.
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
}

const collectWant = `an EventBridge Scheduler event or a JSON object with optional "days" (1..90) and "regions" (a list of region names)`

// collectParams are the fields a collector reads, at the top level of a
// plain object or in the "detail" of an EventBridge event.
var collectParams = []string{"days", "regions"}

// eventBridgeFields are the fields of the EventBridge envelope.
var eventBridgeFields = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}

func (f *Function) collect(ctx context.Context, payload []byte) (any, error) {
	req, err := f.parseCollect(payload)
	if err != nil {
		return nil, err
	}
	f.logger.InfoContext(ctx, "collect", "cloud", req.Cloud, "days", req.Days, "regions", req.Regions, "source", req.Source, "event_id", req.EventID)
	res, err := f.h.Collect(ctx, req)
	if err != nil {
		return nil, &FunctionError{Function: f.name, Err: err}
	}
	return res, nil
}

// parseCollect reads a scheduled event: an EventBridge event (the
// envelope, with days and regions optionally in its detail) or a plain
// object with optional days and regions. Unknown fields are refused, so
// a misspelt parameter is not silently ignored.
func (f *Function) parseCollect(payload []byte) (CollectRequest, error) {
	req := CollectRequest{Cloud: f.cloud}
	if !isObject(payload) {
		return req, f.eventError(collectWant, "got %s", jsonKind(payload))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil {
		return req, f.eventError(collectWant, "%v", err)
	}
	_, hasSource := top["source"]
	_, hasDetailType := top["detail-type"]
	envelope := hasSource || hasDetailType
	allowed := collectParams
	if envelope {
		allowed = append(slices.Clone(eventBridgeFields), collectParams...)
	}
	if err := onlyFields(top, allowed); err != nil {
		return req, f.eventError(collectWant, "%v", err)
	}
	params := top
	if envelope {
		for _, k := range []struct {
			key string
			dst *string
		}{{"source", &req.Source}, {"id", &req.EventID}} {
			if raw, ok := top[k.key]; ok {
				if err := json.Unmarshal(raw, k.dst); err != nil {
					return req, f.eventError(collectWant, "%q must be a string", k.key)
				}
			}
		}
		if raw, ok := top["time"]; ok {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return req, f.eventError(collectWant, `"time" must be a string`)
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return req, f.eventError(collectWant, `"time" %q is not an RFC 3339 time`, s)
			}
			req.ScheduledAt = t.UTC()
		}
		if raw, ok := top["detail"]; ok && string(raw) != "null" {
			var detail map[string]json.RawMessage
			if !isObject(raw) || json.Unmarshal(raw, &detail) != nil {
				return req, f.eventError(collectWant, `"detail" must be a JSON object`)
			}
			if err := onlyFields(detail, collectParams); err != nil {
				return req, f.eventError(collectWant, "detail: %v", err)
			}
			for _, k := range collectParams {
				if _, dup := top[k]; dup {
					if _, ok := detail[k]; ok {
						return req, f.eventError(collectWant, "%q is given both in the event and in its detail", k)
					}
				}
			}
			params = map[string]json.RawMessage{}
			for k, v := range top {
				params[k] = v
			}
			for k, v := range detail {
				params[k] = v
			}
		}
	}
	if raw, ok := params["days"]; ok {
		if kind := jsonKind(raw); kind != "a JSON number" {
			return req, f.eventError(collectWant, `"days" must be a whole number from 1 to %d, got %s`, MaxCollectDays, kind)
		}
		n, err := json.Number(raw).Int64()
		if err != nil || n < 1 || n > MaxCollectDays {
			return req, f.eventError(collectWant, `"days" must be a whole number from 1 to %d, got %s`, MaxCollectDays, raw)
		}
		req.Days = int(n)
	}
	if raw, ok := params["regions"]; ok {
		var regions []string
		if err := json.Unmarshal(raw, &regions); err != nil {
			return req, f.eventError(collectWant, `"regions" must be a list of region names, got %s`, jsonKind(raw))
		}
		seen := map[string]bool{}
		for _, r := range regions {
			if !validRegion(r) {
				return req, f.eventError(collectWant, "region %q is not a region name", r)
			}
			if !seen[r] {
				seen[r] = true
				req.Regions = append(req.Regions, r)
			}
		}
	}
	return req, nil
}

// validRegion accepts the region names of the three clouds: lower-case
// letters, digits and hyphens ("us-east-1", "westeurope",
// "europe-west1").
func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for _, c := range r {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// onlyFields fails on the first field of obj (in sorted order) that is
// not allowed.
func onlyFields(obj map[string]json.RawMessage, allowed []string) error {
	var unknown []string
	for k := range obj {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("unknown field %q (known: %s)", unknown[0], strings.Join(allowed, ", "))
}
