package plugintest

import (
	"context"
	"testing"

	"github.com/skiffhq/skiff/plugins"
)

// NewHost starts a plugin host with cfg and closes it when the test ends;
// it fails the test if the host cannot start.
func NewHost(tb testing.TB, cfg plugins.Config) *plugins.Host {
	tb.Helper()
	h, err := plugins.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

// Load builds the guest package pkg (see Build) and loads it into h as
// plugin name at version "v1" with settings; it fails the test if the
// module does not load.
func Load(tb testing.TB, h *plugins.Host, name, pkg, settings string) *plugins.Plugin {
	tb.Helper()
	p, err := h.Load(context.Background(), name, "v1", Build(tb, pkg), []byte(settings))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
