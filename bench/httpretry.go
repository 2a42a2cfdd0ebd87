package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// post sends body to url and returns the status and the response body. Like a well-behaved
// client it retries, a few times with backoff, when the connection fails or the server
// answers 503 ("JetStream did not answer in time; retry"), which happens when the machine
// is starved of CPU; every retry is counted in retries.
func post(ctx context.Context, c *http.Client, url, body, token string, retries *atomic.Int64) (int, []byte, error) {
	const attempts = 5
	backoff := 100 * time.Millisecond
	for i := 1; ; i++ {
		status, b, err := postOnce(ctx, c, url, body, token)
		if (err == nil && status != http.StatusServiceUnavailable) || i == attempts || ctx.Err() != nil {
			return status, b, err
		}
		retries.Add(1)
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

func postOnce(ctx context.Context, c *http.Client, url, body, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, b, nil
}
