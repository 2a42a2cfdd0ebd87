package server

import (
	"github.com/hitl-dev/hitl/routing"
	"github.com/hitl-dev/hitl/surface/web"
)

// webSurface is the web inbox (/inbox): pages people answer requests on, reached from the
// links other channels send and by operators who sign in. It has no notify channel of its
// own. Only the responder serves it; a process without a link secret (an orchestrator
// alone) does not build it, and the responder role requires the secret.
func webSurface(d deps) (*surface, error) {
	c := d.cfg
	if len(c.LinkSecret) < 16 {
		return nil, nil
	}
	srv, err := web.New(web.Config{Store: d.store, LinkSecret: []byte(c.LinkSecret), Tokens: c.APITokens,
		Routes: func() *routing.Routes { return *d.routes }, PublicURL: c.PublicURL, Logger: d.log, Metrics: d.metrics})
	if err != nil {
		return nil, err
	}
	return &surface{routes: srv.Routes()}, nil
}
