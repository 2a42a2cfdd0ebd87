package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hitl-dev/hitl/internal/embedded"
)

// Dev runs `hitl dev`: an embedded JetStream server with file storage under c.Data,
// listening on c.NATS so NATS tools and separately started services can attach, and every
// service in this process. Restarting on the same data directory keeps all runs and requests.
func Dev(ctx context.Context, c *Config, ready Ready) error {
	log := c.Logger
	if log == nil {
		log = c.NewLogger()
		c.Logger = log
	}
	addr := strings.TrimPrefix(c.NATS, "nats://")
	srv, err := embedded.Start(embedded.Options{StoreDir: filepath.Join(c.Data, "jetstream"), Addr: addr, ServerName: "hitl-dev"})
	if err != nil {
		return fmt.Errorf("start embedded JetStream on %s (data in %s): %w", addr, c.Data, err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	log.Info("embedded JetStream started", "nats", srv.ClientURL(), "data", c.Data)
	c.NATS = srv.ClientURL()
	if c.LinkSecret == "" {
		if c.LinkSecret, err = DevLinkSecret(c.Data); err != nil {
			return err
		}
	}
	if len(c.APITokens) == 0 {
		c.Insecure = true
		log.Warn("no HITL_API_TOKENS: the API accepts every caller (dev mode)")
	}
	return Run(ctx, c, All, ready)
}
