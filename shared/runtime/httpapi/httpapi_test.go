package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

type fakeApprover struct {
	err error
	got approve.Request
}

func (f *fakeApprover) Handle(ctx context.Context, req approve.Request) (approve.Result, error) {
	f.got = req
	if f.err != nil {
		return approve.Result{}, f.err
	}
	return approve.Result{PlanID: "plan-1", Approved: []string{"act-1"}, Enqueued: 1}, nil
}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, http.StatusOK},
		{fmt.Errorf("approve: %w: bad body", domain.ErrInvalid), http.StatusBadRequest},
		{fmt.Errorf("approve: %w: expired", domain.ErrPermission), http.StatusUnauthorized},
		{fmt.Errorf("approve: %w: no plan", domain.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("approve: %w: replay", domain.ErrConflict), http.StatusConflict},
		{errors.New("store down: s3://secret-bucket"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.want), func(t *testing.T) {
			core := &fakeApprover{err: tt.err}
			srv := httptest.NewServer(httpapi.ApproveHandler(core, nil))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"plan_id":"p"}`))
			req.Header.Set(approve.HeaderTimestamp, "1795000000")
			req.Header.Set(approve.HeaderSignature, "v1=abcd")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d; want %d", resp.StatusCode, tt.want)
			}
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("response is not JSON: %v", err)
			}
			if tt.want == http.StatusInternalServerError && strings.Contains(fmt.Sprint(body), "secret-bucket") {
				t.Errorf("internal error detail leaked to the caller: %v", body)
			}
			if core.got.Timestamp != "1795000000" || core.got.Signature != "v1=abcd" || string(core.got.Body) != `{"plan_id":"p"}` {
				t.Errorf("core got %+v; want the headers and body as sent", core.got)
			}
		})
	}
}

func TestOnlyPostAndBoundedBodies(t *testing.T) {
	srv := httptest.NewServer(httpapi.ApproveHandler(&fakeApprover{}, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET = %d, Allow %q; want 405 and Allow: POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	big := strings.NewReader(strings.Repeat("x", httpapi.MaxBody+1))
	resp, err = http.Post(srv.URL, "application/json", big)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body = %d; want 413", resp.StatusCode)
	}
}
