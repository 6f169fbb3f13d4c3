package registry_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
)

func stat(t *testing.T, b *blobs.Store, name string) blobs.Info {
	t.Helper()
	in, err := b.Stat(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestPushStoresForTheCollector: the module a push names is always
// younger than RefreshAge by the pusher's clock when its Plugin is
// written, and is stored again when a collector deleted it meanwhile.
func TestPushStoresForTheCollector(t *testing.T) {
	team := plugintest.Minimal("team")
	digest := plugins.Digest(team)
	r, b, _ := start(t)
	ctx := t.Context()
	push := func(settings string) {
		t.Helper()
		if _, err := r.Push(ctx, registry.Push{Name: "team", Wasm: team, Settings: []byte(settings)}); err != nil {
			t.Fatal(err)
		}
	}
	push(`{"label":"a"}`)
	first := stat(t, b, digest)

	// A fresh copy is not written again.
	push(`{"label":"b"}`)
	if got := stat(t, b, digest); !got.ModTime.Equal(first.ModTime) {
		t.Errorf("a push within RefreshAge rewrote the module: %v, then %v", first.ModTime, got.ModTime)
	}

	// An old one is: its modification time moves to the push.
	registry.SetClock(r, func() time.Time { return time.Now().Add(registry.RefreshAge + time.Second) })
	push(`{"label":"c"}`)
	if got := stat(t, b, digest); !got.ModTime.After(first.ModTime) {
		t.Errorf("a push of a module older than RefreshAge left it at %v", got.ModTime)
	}
	registry.SetClock(r, time.Now)

	// A collector deletes the module between the push's store and its
	// Plugin write: the push stores it again.
	registry.SetBeforeWrite(r, func() {
		if err := b.Delete(ctx, digest); err != nil {
			t.Error(err)
		}
	})
	push(`{"label":"d"}`)
	if got, err := b.ReadAll(ctx, digest); err != nil || !bytes.Equal(got, team) {
		t.Fatalf("the module after a delete during the push: %d bytes, %v", len(got), err)
	}
}

// TestListAndDeleteModules: only objects named by a digest are modules;
// DeleteModule spares a module written at or after its cutoff and is
// idempotent.
func TestListAndDeleteModules(t *testing.T) {
	_, b, _ := start(t)
	ctx := t.Context()
	a, c := plugins.Digest([]byte("a")), plugins.Digest([]byte("c"))
	for _, name := range []string{a, "notes.txt", "SHA256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("0", 63)} {
		if _, err := b.Put(ctx, name, strings.NewReader(name), nil); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"team:latest": a, c: a} {
		if err := b.Link(ctx, link, target); err != nil {
			t.Fatal(err)
		}
	}
	list, err := registry.ListModules(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Digest != a || list[0].ModTime.IsZero() {
		t.Fatalf("ListModules = %+v, want only %s", list, a)
	}
	mod := list[0].ModTime
	for _, tc := range []struct {
		name   string
		digest string
		cutoff time.Time
		want   bool
	}{
		{"written at the cutoff", a, mod, false},
		{"a link named like a module", c, mod.Add(time.Hour), false},
		{"written before the cutoff", a, mod.Add(time.Nanosecond), true},
		{"already gone", a, mod.Add(time.Hour), false},
	} {
		got, err := registry.DeleteModule(ctx, b, tc.digest, tc.cutoff)
		if err != nil || got != tc.want {
			t.Errorf("%s: DeleteModule = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := registry.DeleteModule(ctx, b, "notes.txt", mod.Add(time.Hour)); err == nil {
		t.Error("DeleteModule accepted a name that is not a digest")
	}
	var names []string
	all, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range all {
		names = append(names, in.Name)
	}
	slices.Sort(names)
	want := []string{"SHA256:" + strings.Repeat("A", 64), "notes.txt", "sha256:" + strings.Repeat("0", 63), c, "team:latest"}
	slices.Sort(want)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("bucket after the deletions (-want +got):\n%s", diff)
	}
}

// TestModulesCache: Cached lists a directory's module files and
// unfinished writes, by digest with the newest time; Uncache removes the
// ones written before its cutoff and nothing else.
func TestModulesCache(t *testing.T) {
	dir := t.TempDir()
	m := &registry.Modules{Dir: dir}
	hex := func(c string) string { return strings.Repeat(c, 64) }
	now := time.Now()
	old, fresh := now.Add(-time.Hour), now
	files := []struct {
		name string
		mod  time.Time
	}{
		{hex("a") + ".wasm", old},       // old module
		{hex("b") + ".wasm", fresh},     // fresh module
		{hex("c") + ".wasm.tmp", old},   // unfinished write, abandoned
		{hex("d") + ".wasm", old},       // old module...
		{hex("d") + ".wasm.tmp", fresh}, // ...being fetched again
		{"README", old},
		{hex("E") + ".wasm", old},
		{hex("e") + ".txt", old},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte(f.name), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, f.mod, f.mod); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, hex("f")+".wasm"), 0o755); err != nil {
		t.Fatal(err)
	}
	cached, err := m.Cached()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	for _, s := range cached {
		got[s.Digest] = s.ModTime
	}
	want := map[string]time.Time{"sha256:" + hex("a"): old, "sha256:" + hex("b"): fresh, "sha256:" + hex("c"): old, "sha256:" + hex("d"): fresh}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) })); diff != "" {
		t.Fatalf("Cached (-want +got):\n%s", diff)
	}
	for c, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got, err := m.Uncache("sha256:"+hex(c), now.Add(-time.Minute)); err != nil || got != want {
			t.Errorf("Uncache %s = %v, %v; want %v", c, got, err, want)
		}
	}
	if got, err := m.Uncache("sha256:"+hex("a"), now); err != nil || got {
		t.Fatalf("Uncache of a module already gone: %v, %v", got, err)
	}
	if _, err := m.Uncache("sha256:../../x", now); err == nil {
		t.Fatal("Uncache accepted a digest that is a path")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	wantLeft := []string{hex("E") + ".wasm", "README", hex("b") + ".wasm", hex("d") + ".wasm.tmp", hex("e") + ".txt", hex("f") + ".wasm"}
	slices.Sort(wantLeft)
	if diff := cmp.Diff(wantLeft, left); diff != "" {
		t.Errorf("directory after Uncache (-want +got):\n%s", diff)
	}
	if c, err := (&registry.Modules{Dir: filepath.Join(dir, "none")}).Cached(); err != nil || c != nil {
		t.Errorf("Cached of a missing directory: %v, %v", c, err)
	}
}
