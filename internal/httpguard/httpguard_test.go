package httpguard_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitl-dev/hitl/internal/httpguard"
)

// serve runs a real HTTP server with the guard in front of a handler that counts what
// reaches it.
func serve(t *testing.T, cfg httpguard.Config) (*httptest.Server, *int) {
	t.Helper()
	g, err := httpguard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reached := new(int)
	srv := httptest.NewServer(g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*reached++
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(srv.Close)
	return srv, reached
}

func TestGuard(t *testing.T) {
	cfg := httpguard.Config{PublicURL: "https://hitl.example.com/base", CheckHost: true, JSON: []string{"/v1/", "/start_job"}}
	type req struct {
		method, path, body string
		hdr                []string // name, value, ...
		host               string
	}
	for name, tc := range map[string]struct {
		req      req
		want     int
		wantCode string // the JSON error code; "" for a plain page or a pass
	}{
		"curl json":                 {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "application/json"}, ""}, 204, ""},
		"json with charset":         {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "application/json; charset=utf-8"}, ""}, 204, ""},
		"json upper case":           {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "Application/JSON"}, ""}, 204, ""},
		"text/plain":                {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "text/plain"}, ""}, 415, "unsupported_media_type"},
		"form type on api":          {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, ""}, 415, "unsupported_media_type"},
		"json-looking suffix":       {req{"POST", "/start_job", `{}`, []string{"Content-Type", "application/jsonx"}, ""}, 415, "unsupported_media_type"},
		"bad media type":            {req{"POST", "/start_job", `{}`, []string{"Content-Type", ";;"}, ""}, 415, "unsupported_media_type"},
		"body without type":         {req{"POST", "/v1/runs", `{}`, nil, ""}, 415, "unsupported_media_type"},
		"empty body without type":   {req{"POST", "/v1/runs/x/cancel", "", nil, ""}, 204, ""},
		"empty body with text type": {req{"POST", "/v1/runs/x/cancel", "", []string{"Content-Type", "text/plain"}, ""}, 415, "unsupported_media_type"},
		"GET ignores content type":  {req{"GET", "/v1/runs", "", []string{"Content-Type", "text/plain"}, ""}, 204, ""},
		"form outside the api":      {req{"POST", "/inbox/login", "a=b", []string{"Content-Type", "application/x-www-form-urlencoded"}, ""}, 204, ""},
		"exact path only":           {req{"POST", "/start_job/x", "a=b", []string{"Content-Type", "text/plain"}, ""}, 204, ""},

		"cross-site fetch":      {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, ""}, 403, "cross_origin"},
		"same-site fetch":       {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "application/json", "Sec-Fetch-Site", "same-site"}, ""}, 403, "cross_origin"},
		"same-origin fetch":     {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "application/json", "Sec-Fetch-Site", "same-origin"}, ""}, 204, ""},
		"typed into the bar":    {req{"POST", "/inbox/login", "", []string{"Sec-Fetch-Site", "none"}, ""}, 204, ""},
		"foreign origin":        {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "application/json", "Origin", "https://evil.example"}, ""}, 403, "cross_origin"},
		"null origin":           {req{"POST", "/v1/runs", `{}`, []string{"Content-Type", "application/json", "Origin", "null"}, ""}, 403, "cross_origin"},
		"foreign origin page":   {req{"POST", "/inbox/login", "a=b", []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example"}, ""}, 403, ""},
		"public url origin":     {req{"POST", "/inbox/login", "a=b", []string{"Origin", "https://hitl.example.com", "Sec-Fetch-Site", "cross-site"}, "10.0.0.5:8080"}, 204, ""},
		"public url other port": {req{"POST", "/inbox/login", "a=b", []string{"Origin", "https://hitl.example.com:444"}, "10.0.0.5:8080"}, 403, ""},
		"cross-site GET":        {req{"GET", "/inbox", "", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, ""}, 204, ""},

		"rebinding host":      {req{"GET", "/v1/requests", "", nil, "evil.example:8080"}, 421, "misdirected_request"},
		"rebinding host post": {req{"POST", "/inbox/login", "a=b", []string{"Content-Type", "application/x-www-form-urlencoded"}, "evil.example"}, 421, ""},
		"localhost":           {req{"GET", "/v1/requests", "", nil, "localhost:8080"}, 204, ""},
		"sub.localhost":       {req{"GET", "/v1/requests", "", nil, "app.localhost:8080"}, 204, ""},
		"ipv6":                {req{"GET", "/v1/requests", "", nil, "[::1]:8080"}, 204, ""},
		"any ip":              {req{"GET", "/metrics", "", nil, "192.168.1.20:8080"}, 204, ""},
		"public host":         {req{"GET", "/v1/requests", "", nil, "HITL.example.com."}, 204, ""},
		"lookalike host":      {req{"GET", "/v1/requests", "", nil, "hitl.example.com.evil.example"}, 421, "misdirected_request"},
		"localhost lookalike": {req{"GET", "/v1/requests", "", nil, "localhost.evil.example"}, 421, "misdirected_request"},
	} {
		t.Run(name, func(t *testing.T) {
			srv, reached := serve(t, cfg)
			r, err := http.NewRequest(tc.req.method, srv.URL+tc.req.path, strings.NewReader(tc.req.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.req.body == "" {
				r.Body, r.ContentLength = http.NoBody, 0
			}
			for i := 0; i < len(tc.req.hdr); i += 2 {
				r.Header.Set(tc.req.hdr[i], tc.req.hdr[i+1])
			}
			if tc.req.host != "" {
				r.Host = tc.req.host
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if passed := tc.want == http.StatusNoContent; passed != (*reached == 1) {
				t.Fatalf("handler reached %d times, status %d", *reached, resp.StatusCode)
			}
			if tc.want == http.StatusNoContent {
				return
			}
			ct := resp.Header.Get("Content-Type")
			if tc.wantCode == "" {
				if !strings.HasPrefix(ct, "text/plain") || !strings.Contains(string(b), http.StatusText(tc.want)) {
					t.Fatalf("plain page expected, got %s: %s", ct, b)
				}
				return
			}
			var e struct {
				Error  struct{ Code, Message string }
				Detail string
			}
			if err := json.Unmarshal(b, &e); err != nil || ct != "application/json" {
				t.Fatalf("JSON error expected, got %s: %s", ct, b)
			}
			if e.Error.Code != tc.wantCode || e.Error.Message == "" || e.Detail != e.Error.Message {
				t.Fatalf("error %+v, want code %s", e, tc.wantCode)
			}
		})
	}
}

// Without CheckHost any name passes: a production server behind names we do not know.
func TestNoHostCheck(t *testing.T) {
	srv, reached := serve(t, httpguard.Config{JSON: []string{"/v1/"}})
	r, _ := http.NewRequest("GET", srv.URL+"/v1/requests", nil)
	r.Host = "hitl-responder.internal:8080"
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || *reached != 1 {
		t.Fatalf("status %d, reached %d", resp.StatusCode, *reached)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []httpguard.Config{
		{PublicURL: "localhost:8080"},
		{PublicURL: "ftp://x"},
		{PublicURL: "http://"},
		{JSON: []string{"v1/"}},
	} {
		if _, err := httpguard.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
