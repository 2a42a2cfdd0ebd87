package surface_test

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hitl-dev/hitl/surface"
)

type section struct {
	Token string `yaml:"token" env:"HITL_TEST_SURFACE_TOKEN"`
	URL   string `yaml:"url" env:"HITL_TEST_SURFACE_URL"`
	Plain string `yaml:"plain"`
}

func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func TestSectionFileThenEnvironment(t *testing.T) {
	t.Setenv("HITL_TEST_SURFACE_URL", "http://from-env")
	var s section
	env := surface.Env{Raw: node(t, "token: from-file\nurl: http://from-file\nplain: p\n")}
	if err := env.Section(&s); err != nil {
		t.Fatal(err)
	}
	if s.Token != "from-file" || s.URL != "http://from-env" || s.Plain != "p" {
		t.Fatalf("section %+v", s)
	}
	// No section at all: the environment alone.
	t.Setenv("HITL_TEST_SURFACE_TOKEN", "env-token")
	s = section{}
	if err := (surface.Env{}).Section(&s); err != nil || s.Token != "env-token" || s.URL != "http://from-env" {
		t.Fatalf("environment alone: %+v %v", s, err)
	}
}

func TestSectionRefusesBadInput(t *testing.T) {
	var s section
	if err := (surface.Env{Raw: node(t, "tokn: x\n")}).Section(&s); err == nil || !strings.Contains(err.Error(), "tokn") {
		t.Fatalf("a misspelt key: %v", err)
	}
	if err := (surface.Env{Raw: node(t, "token: [1, 2]\n")}).Section(&s); err == nil {
		t.Fatal("a list for a string was accepted")
	}
	if err := (surface.Env{}).Section(s); err == nil {
		t.Fatal("a non-pointer was accepted")
	}
	var bad struct {
		N int `env:"HITL_TEST_SURFACE_N"`
	}
	if err := (surface.Env{}).Section(&bad); err == nil {
		t.Fatal("an env tag on a non-string field was accepted")
	}
}
