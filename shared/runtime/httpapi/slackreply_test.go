package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

func TestSlackReplierPostsAMessage(t *testing.T) {
	var got []approve.SlackReply
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var rep approve.SlackReply
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json; charset=utf-8" || json.Unmarshal(b, &rep) != nil {
			http.Error(w, "bad reply", http.StatusBadRequest)
			return
		}
		got = append(got, rep)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	r := &httpapi.SlackReplier{AllowHosts: []string{u.Host}}
	if err := r.Reply(context.Background(), srv.URL+"/actions/T1/2/x", "<@U9> approved action a1"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Text != "<@U9> approved action a1" || got[0].ResponseType != "in_channel" || got[0].ReplaceOriginal {
		t.Fatalf("posted %+v; want one new in-channel message that keeps the original", got)
	}
	// Slack answering an error is an error naming the host only (the
	// response URL is a credential).
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "expired_url", http.StatusNotFound) }))
	defer bad.Close()
	bu, _ := url.Parse(bad.URL)
	err := (&httpapi.SlackReplier{AllowHosts: []string{bu.Host}}).Reply(context.Background(), bad.URL+"/actions/T1/2/secret-part", "x")
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || strings.Contains(err.Error(), "secret-part") {
		t.Errorf("reply to a failing endpoint = %v; want HTTP 404 without the URL's path", err)
	}
}

func TestSlackReplierRefusesOtherHosts(t *testing.T) {
	r := &httpapi.SlackReplier{}
	for _, u := range []string{
		"http://hooks.slack.com/actions/x",    // not https
		"https://hooks.slack.com.evil.test/x", // another host
		"https://user:pw@hooks.slack.com/x",   // credentials
		"https://169.254.169.254/latest/meta-data",
		"hooks.slack.com/actions/x",
		"",
	} {
		if err := r.Reply(context.Background(), u, "hi"); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Reply(%q) = %v; want ErrInvalid before any call", u, err)
		}
	}
}
