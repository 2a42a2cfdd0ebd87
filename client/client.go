package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultURL is where `hitl dev` serves the API.
const DefaultURL = "http://localhost:8080"

// maxPoll caps one long-poll: the API's own cap is 5 minutes by default, and it answers with
// the current state when its cap is shorter, so longer waits are a series of polls.
const maxPoll = 5 * time.Minute

// minPoll is the shortest long-poll asked for; less time than this left reads the state
// with a plain GET instead (the API may not manage to arm its watch in less).
const minPoll = 100 * time.Millisecond

// maxResponse caps the body read from the API.
const maxResponse = 16 << 20

// Config of a Client.
type Config struct {
	// URL is the API's base URL, e.g. "https://hitl.example.com". Default DefaultURL.
	URL string
	// Token, when set, is sent as "Authorization: Bearer <token>" (one of the server's
	// HITL_API_TOKENS). `hitl dev` needs none.
	Token string
	// HTTPClient makes the calls. Default: a client with no overall timeout, since Wait and
	// WaitRun hold a call open for up to 5 minutes; bound calls with their context instead.
	HTTPClient *http.Client
	// UserAgent is sent with every call. Default "hitl-go-client".
	UserAgent string
}

// Client calls the REST API. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	ua    string
}

// New checks the config and returns a Client. It makes no call.
func New(cfg Config) (*Client, error) {
	raw := cmp.Or(cfg.URL, DefaultURL)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: URL %q must be an absolute http(s) URL like %s", raw, DefaultURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: u, token: cfg.Token, hc: cfg.HTTPClient, ua: cmp.Or(cfg.UserAgent, "hitl-go-client")}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	return c, nil
}

// URL is the API's base URL.
func (c *Client) URL() string { return c.base.String() }

// Do calls any endpoint, for what the typed methods do not cover: path is below the base URL
// and may carry a query ("/v1/requests?status=pending"); in, when not nil, is sent as the
// JSON body (a json.RawMessage as is); a 2xx answer is decoded into out when out is not nil
// (a *json.RawMessage keeps it as it came); any other status is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, nil, in, out)
}

// do is Do with a query.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := c.base.String() + path
	if q := query.Encode(); q != "" {
		u += "?" + q
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("client: path %q must start with /", path)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encode the body of %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err // a *url.Error naming the method and URL
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("client: read the answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFrom(resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("client: decode the answer to %s %s: %w", method, path, err)
	}
	return nil
}

// pathID escapes an id for a path segment, refusing the empty id (which would name a
// different endpoint).
func pathID(what, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("client: %s id is empty", what)
	}
	return url.PathEscape(id), nil
}

// poll repeats a long-poll until settled holds, timeout passes (timeout <= 0: no limit) or
// ctx ends. Each call is given the remaining time, at most maxPoll; path+"/wait" is polled,
// or path itself when less than minPoll is left.
func poll[T any](ctx context.Context, c *Client, path string, timeout time.Duration, settled func(*T) bool) (*T, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		wait := maxPoll
		if !deadline.IsZero() {
			wait = min(wait, time.Until(deadline).Round(time.Millisecond))
		}
		v := new(T)
		var err error
		if wait < minPoll {
			err = c.do(ctx, "GET", path, nil, nil, v)
		} else {
			err = c.do(ctx, "GET", path+"/wait", url.Values{"timeout": {wait.String()}}, nil, v)
		}
		if err != nil {
			return nil, err
		}
		if settled(v) || wait < minPoll {
			return v, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

var errEmptyWorkflow = errors.New("client: workflow name is empty")
