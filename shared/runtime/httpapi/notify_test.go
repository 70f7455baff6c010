package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

func TestNotifierPostsAndNeverRevealsTheURL(t *testing.T) {
	var got httpapi.Notification
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/services/T000/B000/secret-token" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	n, err := httpapi.NewNotifier(srv.URL+"/services/T000/B000/secret-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), httpapi.Notification{Text: "plan ready", Event: "plan", PlanID: "p1"}); err != nil {
		t.Fatal(err)
	}
	if got.Text != "plan ready" || got.Event != "plan" || got.PlanID != "p1" {
		t.Fatalf("posted %+v", got)
	}
	if strings.Contains(n.String(), "secret-token") {
		t.Fatalf("String() = %q reveals the URL's path", n)
	}

	bad, _ := httpapi.NewNotifier(srv.URL+"/services/wrong/secret-token", nil)
	err = bad.Notify(context.Background(), httpapi.Notification{Text: "x"})
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Fatalf("failed post: err = %v, want an error without the URL's path", err)
	}
	srv.Close()
	err = n.Notify(context.Background(), httpapi.Notification{Text: "x"})
	if err == nil || strings.Contains(err.Error(), "secret-token") {
		t.Fatalf("unreachable: err = %v, want an error without the URL's path", err)
	}
}

func TestNotifierRefusesPlainHTTPOffLoopbackAndNilIsANoOp(t *testing.T) {
	if _, err := httpapi.NewNotifier("http://hooks.example.com/x", nil); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("plain http: err = %v, want invalid", err)
	}
	if _, err := httpapi.NewNotifier("not a url", nil); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("not a URL: err = %v, want invalid", err)
	}
	n, err := httpapi.NewNotifier("", nil)
	if err != nil || n != nil {
		t.Fatalf("empty URL: %v, %v", n, err)
	}
	if err := n.Notify(context.Background(), httpapi.Notification{Text: "x"}); err != nil {
		t.Fatalf("nil notifier: %v", err)
	}
}

func TestPlanNotificationPostsBlocks(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	plan := domain.Plan{Version: domain.PlanVersion, ID: "plan-1", Currency: "USD", Actions: []domain.Action{{ID: "act-1", PlanID: "plan-1",
		Kind: domain.ActionStop, MonthlySavings: domain.USD(5_000_000)}}}
	msg, err := httpapi.PlanNotification(&plan, "https://reports.example.com", map[string]int{"actions": 1})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := httpapi.NewNotifier(srv.URL+"/hook", nil)
	if err := n.Notify(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	blocks, _ := got["blocks"].([]any)
	if got["text"] == "" || got["event"] != "plan" || got["plan_id"] != "plan-1" || len(blocks) < 4 {
		t.Fatalf("posted %v; want text, event, plan_id and Block Kit blocks", got)
	}
	if _, err := httpapi.PlanNotification(&plan, "not a url", nil); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("PlanNotification with a bad report URL = %v; want ErrInvalid", err)
	}
	plain, _ := json.Marshal(httpapi.Notification{Text: "x", Event: "plan"})
	if strings.Contains(string(plain), "blocks") {
		t.Errorf("a notification without blocks posts %s; want no blocks field", plain)
	}
}
