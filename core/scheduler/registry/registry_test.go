package registry_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

const teamPkg = "github.com/skiffhq/skiff/examples/plugins/team"

// start runs a NATS server and an API server and returns the registry
// over them and the module bucket.
func start(t *testing.T) (*registry.Registry, *blobs.Store, *client.Client) {
	t.Helper()
	e := apiservertest.Start(t, apiservertest.Config{})
	b, err := registry.OpenBucket(t.Context(), e.ClientConn)
	if err != nil {
		t.Fatal(err)
	}
	return registry.New(e.Client, b), b, e.Client
}

func TestCheck(t *testing.T) {
	team := plugintest.Build(t, teamPkg)
	noabi := plugintest.Build(t, "./testdata/noabi")
	for _, tc := range []struct {
		name     string
		wasm     []byte
		settings string
		want     string // substring of the error; "" for none
	}{
		{"good", team, "", ""},
		{"good settings", team, `{"label":"squad"}`, ""},
		{"not wasm", []byte("\x7fELF..."), "", "not a WebAssembly module"},
		{"truncated", team[:len(team)/2], "", "instantiate"},
		{"bad settings", team, `{"label":""}`, "settings: annotation and label must not be empty"},
		{"unknown setting", team, `{"colour":"blue"}`, "settings"},
		{"not json", team, `{label`, "settings are not JSON"},
		{"empty module", []byte("\x00asm\x01\x00\x00\x00"), "", "instantiate"},
		{"missing exports", noabi, "", "instantiate: missing export"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var settings []byte
			if tc.settings != "" {
				settings = []byte(tc.settings)
			}
			err := registry.Check(t.Context(), tc.wasm, settings)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, registry.ErrInvalid)):
				t.Fatalf("Check: %v, want ErrInvalid with %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("Check's error is not one line: %q", err)
			}
		})
	}
}

func TestPushAndRollback(t *testing.T) {
	team := plugintest.Build(t, teamPkg)
	r, b, c := start(t)
	ctx := t.Context()
	versions := func() []string {
		p, err := client.For[*skiffv1alpha1.Plugin](c).Get(ctx, "", "team")
		if err != nil {
			t.Fatal(err)
		}
		out := []string{"current=" + p.Spec.Version + " " + string(p.Spec.Settings.Raw)}
		for _, v := range p.Spec.History {
			out = append(out, v.Version)
		}
		return out
	}
	if _, err := r.Push(ctx, registry.Push{Name: "team", Wasm: team}); err != nil {
		t.Fatal(err)
	}
	// Pushes of one plugin from several clients at once each get a version.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := r.Push(ctx, registry.Push{Name: "team", Wasm: team, Settings: []byte(`{"label":"t"}`)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff([]string{`current=v4 {"label":"t"}`, "v1", "v2", "v3", "v4"}, versions()); diff != "" {
		t.Errorf("after pushes (-want +got):\n%s", diff)
	}
	if _, err := r.Push(ctx, registry.Push{Name: "team", Wasm: team, Version: "v2"}); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("push of an existing version: %v, want ErrInvalid", err)
	}
	if _, err := r.Push(ctx, registry.Push{Name: "team", Wasm: team, Version: "canary", Settings: []byte(`{"label":"c"}`)}); err != nil {
		t.Fatal(err)
	}
	p, err := r.Rollback(ctx, "team", "")
	if err != nil || p.Spec.Version != "v4" {
		t.Fatalf("rollback: %v, %v", p, err)
	}
	if p, err = r.Rollback(ctx, "team", "v1"); err != nil || p.Spec.Version != "v1" || p.Spec.Settings != nil {
		t.Fatalf("rollback to v1: %+v, %v", p, err)
	}
	if _, err := r.Rollback(ctx, "team", ""); !errors.Is(err, registry.ErrNoVersion) {
		t.Errorf("rollback before the first version: %v, want ErrNoVersion", err)
	}
	if _, err := r.Rollback(ctx, "team", "v9"); !errors.Is(err, registry.ErrNoVersion) || !strings.Contains(err.Error(), "it has v1, v2, v3, v4, canary") {
		t.Errorf("rollback to a missing version: %v", err)
	}
	ps, err := r.List(ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("List: %v, %v", ps, err)
	}

	// The module is in the Object Store under its digest; Modules keeps
	// a checked copy on disk and refetches a corrupt one.
	digest := plugins.Digest(team)
	dir := t.TempDir()
	m := &registry.Modules{Blobs: b, Dir: dir}
	for range 2 {
		got, err := m.Module(ctx, digest)
		if err != nil || plugins.Digest(got) != digest {
			t.Fatalf("Module: %v", err)
		}
	}
	file := filepath.Join(dir, strings.TrimPrefix(digest, "sha256:")+".wasm")
	if err := os.WriteFile(file, []byte("corrupt"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Module(ctx, digest); err != nil || plugins.Digest(got) != digest {
		t.Fatalf("Module over a corrupt cache file: %v", err)
	}
	if _, err := m.Module(ctx, "sha256:../../etc/passwd"); err == nil {
		t.Fatal("Module accepted a digest that is a path")
	}
	if _, err := m.Module(ctx, "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, blobs.ErrNotFound) {
		t.Fatalf("Module of an unknown digest: %v, want blobs.ErrNotFound", err)
	}
}
