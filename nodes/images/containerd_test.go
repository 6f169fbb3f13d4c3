package images_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/skiffhq/skiff/nodes/images"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
)

// These tests use a private containerd daemon; they skip where it cannot
// run, and fail instead under CI=true.

// countingRuntime counts the imports that reach containerd.
type countingRuntime struct {
	*containerd.Runtime
	imports atomic.Int32
}

func (c *countingRuntime) Import(ctx context.Context, r io.Reader) ([]runtime.Image, error) {
	c.imports.Add(1)
	return c.Runtime.Import(ctx, r)
}

func newContainerd(t *testing.T) *countingRuntime {
	t.Helper()
	if err := containerd.CanRun(""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v (run .ci/install-containerd.sh)", err)
		}
		t.Skipf("skipping: %v", err)
	}
	dir, err := os.MkdirTemp("", "skiff-img-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	rt, err := containerd.New(t.Context(), containerd.Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		sbs, _ := rt.ListSandboxes(ctx, nil)
		for _, sb := range sbs {
			_ = rt.RemoveSandbox(ctx, sb.ID)
		}
		_ = rt.Close()
		_ = os.RemoveAll(dir)
	})
	return &countingRuntime{Runtime: rt}
}

// hostImage is testImage for this machine's architecture, which
// containerd's unpack insists on.
func hostImage(t *testing.T, content string) v1.Image {
	t.Helper()
	img := testImage(t, content)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = goruntime.GOARCH
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestContainerdImport(t *testing.T) {
	rt := newContainerd(t)
	conn := connect(t)
	ctx := t.Context()
	s := openStore(t, conn)
	img := hostImage(t, "containerd")
	d := digestOf(t, img)
	for _, tc := range []struct{ format, path string }{
		{"docker", dockerArchive(t, img, "skiff.local/imported:1")},
		{"oci", ociArchive(t, img, "skiff.local/imported:2")},
	} {
		if _, err := images.Push(ctx, s, tc.path, nil); err != nil {
			t.Fatalf("push %s archive: %v", tc.format, err)
		}
	}
	p, err := images.New(images.Config{Conn: conn, Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := rt.RunSandbox(ctx, runtime.SandboxConfig{Name: "p", Namespace: "ns", UID: "u1", Labels: map[string]string{runtime.LabelPodUID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	// Four pods at once need the image: one import.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := p.PullImage(ctx, sb.ID, "skiff.local/imported:1")
			if err != nil || got.ID != d {
				t.Errorf("pull: %+v, %v (want ID %s)", got, err, d)
			}
		})
	}
	wg.Wait()
	if n := rt.imports.Load(); n != 1 {
		t.Fatalf("4 concurrent pulls: %d imports, want 1", n)
	}
	for _, ref := range []string{"skiff.local/imported:1", "skiff.local/imported:2", "skiff.local/imported@" + d} {
		if got, err := p.PullImage(ctx, sb.ID, ref); err != nil || got.ID != d {
			t.Fatalf("pull %s: %+v, %v", ref, got, err)
		}
		if got, ok, err := rt.ImageStatus(ctx, ref); err != nil || !ok || got.ID != d {
			t.Fatalf("containerd has %s: %+v, %v, %v", ref, got, ok, err)
		}
	}
	if n := rt.imports.Load(); n != 3 {
		t.Fatalf("%d imports, want 3 (one per name)", n)
	}

	t.Run("registry", func(t *testing.T) {
		// A name the store does not hold is pulled by containerd from the
		// registry it names: here one in-process, on loopback.
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		defer srv.Close()
		u, _ := url.Parse(srv.URL)
		ref := u.Host + "/skiff/remote:1"
		remoteImg := hostImage(t, "from a registry")
		tag, err := name.NewTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, remoteImg); err != nil {
			t.Fatal(err)
		}
		got, err := p.PullImage(ctx, sb.ID, ref)
		if err != nil || got.ID != digestOf(t, remoteImg) {
			t.Fatalf("registry pull: %+v, %v", got, err)
		}
		_, err = p.PullImage(ctx, sb.ID, u.Host+"/skiff/missing:1")
		if !errors.Is(err, runtime.ErrImagePull) {
			t.Fatalf("missing image: %v", err)
		}
	})
}
