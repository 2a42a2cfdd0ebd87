package embedded_test

import (
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// The server configs in deploy/nats must parse and enable JetStream.
func TestDeployConfigsParse(t *testing.T) {
	files, err := filepath.Glob("../../deploy/nats/*.conf")
	if err != nil || len(files) < 4 {
		t.Fatalf("want single.conf and three cluster configs, found %v (%v)", files, err)
	}
	for _, f := range files {
		opts, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !opts.JetStream {
			t.Errorf("%s: JetStream is not enabled", f)
		}
		if filepath.Base(f) != "single.conf" && (opts.Cluster.Name != "hitl" || len(opts.Routes) != 3) {
			t.Errorf("%s: cluster %q with %d routes, want hitl with 3", f, opts.Cluster.Name, len(opts.Routes))
		}
	}
}
