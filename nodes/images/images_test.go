package images_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/nodes/images"
	"github.com/skiffhq/skiff/nodes/runtime"
)

func connect(t *testing.T) *bus.Conn {
	t.Helper()
	return bustest.Start(t).Connect(t)
}

// testImage is a one-file image whose content (and so digest) depends on
// content.
func testImage(t *testing.T, content string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)})
	_, _ = tw.Write([]byte(content))
	_ = tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// dockerArchive writes img as docker save does, tagged ref ("" for none).
func dockerArchive(t *testing.T, img v1.Image, ref string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docker.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ref == "" {
		err = tarball.Write(nil, img, f)
	} else {
		tag, terr := name.NewTag(ref)
		if terr != nil {
			t.Fatal(terr)
		}
		err = tarball.Write(tag, img, f)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ociArchive writes img as a tar of an OCI layout naming it ref.
func ociArchive(t *testing.T, img v1.Image, ref string) string {
	t.Helper()
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": ref})); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "oci.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func openStore(t *testing.T, conn *bus.Conn) *blobs.Store {
	t.Helper()
	s, err := blobs.Open(t.Context(), conn, blobs.Config{Bucket: subjects.ImagesBucket})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPush(t *testing.T) {
	conn := connect(t)
	s := openStore(t, conn)
	ctx := t.Context()
	img := testImage(t, "one")
	d := digestOf(t, img)

	got, err := images.Push(ctx, s, dockerArchive(t, img, "skiff.local/one:1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != d || got.Existed || got.Size == 0 || !cmp.Equal(got.Names, []string{"skiff.local/one:1"}) {
		t.Fatalf("push docker archive: %+v (digest %s)", got, d)
	}
	// Again, with more names: nothing is uploaded, the names are linked.
	got, err = images.Push(ctx, s, dockerArchive(t, img, "skiff.local/one:1"), []string{"one", "skiff.local/one:1", "one:v2"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Existed || !cmp.Equal(got.Names, []string{"docker.io/library/one:latest", "skiff.local/one:1", "docker.io/library/one:v2"}) {
		t.Fatalf("push again: %+v", got)
	}
	two := testImage(t, "two")
	got, err = images.Push(ctx, s, ociArchive(t, two, "skiff.local/two:1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != digestOf(t, two) || !cmp.Equal(got.Names, []string{"skiff.local/two:1"}) {
		t.Fatalf("push OCI archive: %+v", got)
	}
	list, err := images.List(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Name+"="+l.Digest[:15])
		if l.Size == 0 {
			t.Errorf("%s: size 0", l.Name)
		}
	}
	want := []string{"docker.io/library/one:latest=" + d[:15], "docker.io/library/one:v2=" + d[:15],
		"skiff.local/one:1=" + d[:15], "skiff.local/two:1=" + digestOf(t, two)[:15]}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("list (-want +got):\n%s", diff)
	}

	t.Run("bad input", func(t *testing.T) {
		dir := t.TempDir()
		notTar := filepath.Join(dir, "not.tar")
		_ = os.WriteFile(notTar, []byte("hello, this is not a tar file at all, but it is long enough to be read"), 0o644)
		emptyTar := filepath.Join(dir, "empty.tar")
		var b bytes.Buffer
		_ = tar.NewWriter(&b).Close()
		_ = os.WriteFile(emptyTar, b.Bytes(), 0o644)
		plainTar := filepath.Join(dir, "plain.tar")
		b.Reset()
		tw := tar.NewWriter(&b)
		_ = tw.WriteHeader(&tar.Header{Name: "x", Size: 1, Mode: 0o644})
		_, _ = tw.Write([]byte("x"))
		_ = tw.Close()
		_ = os.WriteFile(plainTar, b.Bytes(), 0o644)
		for _, tc := range []struct {
			name, path string
			names      []string
			want       string
		}{
			{"missing file", filepath.Join(dir, "nope.tar"), nil, "no such file"},
			{"not a tar", notTar, nil, "not an image archive"},
			{"empty tar", emptyTar, nil, "not an image archive"},
			{"tar of something else", plainTar, nil, "not an image archive"},
			{"no name", dockerArchive(t, img, ""), nil, "names no image: give a name"},
			{"bad name", dockerArchive(t, img, "skiff.local/one:1"), []string{"Not A Name"}, "image name"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := images.Push(ctx, s, tc.path, tc.names)
				if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want one line with %q", err, tc.want)
				}
			})
		}
	})
}

// fakeRuntime keeps images by name; Import reads the OCI archive's index
// as containerd does, so it sees the name the Puller gave the image.
type fakeRuntime struct {
	mu      sync.Mutex
	images  map[string]string // normalized name -> digest
	imports int
	pulls   int
	gate    chan struct{} // if set, Import waits for it to close
	entered chan struct{} // if set, Import sends on it when it starts
}

func (f *fakeRuntime) ImageStatus(_ context.Context, ref string) (runtime.Image, bool, error) {
	n, err := images.Normalize(ref)
	if err != nil {
		return runtime.Image{}, false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.images[n]
	return runtime.Image{Ref: ref, ID: d}, ok, nil
}

func (f *fakeRuntime) PullImage(_ context.Context, _, ref string) (runtime.Image, error) {
	n, err := images.Normalize(ref)
	if err != nil {
		return runtime.Image{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls++
	f.images[n] = "sha256:from-registry"
	return runtime.Image{Ref: ref, ID: "sha256:from-registry"}, nil
}

func (f *fakeRuntime) Import(_ context.Context, r io.Reader) ([]runtime.Image, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.gate != nil {
		<-f.gate
	}
	tr := tar.NewReader(r)
	var out []runtime.Image
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Name != "index.json" {
			continue
		}
		var idx v1.IndexManifest
		if err := json.NewDecoder(tr).Decode(&idx); err != nil {
			return nil, err
		}
		for _, m := range idx.Manifests {
			out = append(out, runtime.Image{Ref: m.Annotations["io.containerd.image.name"], ID: m.Digest.String()})
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imports++
	for _, i := range out {
		f.images[i.Ref] = i.ID
	}
	return out, nil
}

func (f *fakeRuntime) counts() (imports, pulls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.imports, f.pulls
}

func TestPuller(t *testing.T) {
	conn := connect(t)
	ctx := t.Context()
	rt := &fakeRuntime{images: map[string]string{}, gate: make(chan struct{})}
	p, err := images.New(images.Config{Conn: conn, Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	// No image was ever pushed: the registry it is.
	if _, err := p.PullImage(ctx, "sb", "busybox:1.36"); err != nil {
		t.Fatal(err)
	}
	if i, n := rt.counts(); i != 0 || n != 1 {
		t.Fatalf("before any push: %d imports, %d pulls", i, n)
	}
	s := openStore(t, conn)
	img := testImage(t, "one")
	d := digestOf(t, img)
	if _, err := images.Push(ctx, s, dockerArchive(t, img, "skiff.local/one:1"), []string{"skiff.local/one:1", "alias:1"}); err != nil {
		t.Fatal(err)
	}

	// Eight pods at once: one import.
	rt.entered = make(chan struct{}, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			got, err := p.PullImage(ctx, "sb", "skiff.local/one:1")
			if err == nil && got.ID != d {
				err = errors.New("image ID " + got.ID)
			}
			errs <- err
		})
	}
	// Once the first holds the import and the seven others wait for it,
	// release it.
	select {
	case <-rt.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("no import started within 30s")
	}
	for deadline := time.Now().Add(30 * time.Second); images.Waiting(p, "skiff.local/one:1") < 7; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 7 pulls wait for the import after 30s", images.Waiting(p, "skiff.local/one:1"))
		}
	}
	close(rt.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if i, _ := rt.counts(); i != 1 {
		t.Fatalf("8 concurrent pulls: %d imports, want 1", i)
	}
	// While an import runs, the Puller's ImageStatus waits for it (the
	// runtime may list an image it has not unpacked yet).
	rt.gate, rt.entered = make(chan struct{}), make(chan struct{}, 1)
	three := testImage(t, "three")
	if _, err := images.Push(ctx, s, dockerArchive(t, three, "skiff.local/three:1"), nil); err != nil {
		t.Fatal(err)
	}
	pulled := make(chan error, 1)
	go func() {
		_, err := p.PullImage(ctx, "sb", "skiff.local/three:1")
		pulled <- err
	}()
	select {
	case <-rt.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the import did not start within 30s")
	}
	status := make(chan bool, 1)
	go func() {
		_, ok, _ := p.ImageStatus(ctx, "skiff.local/three:1")
		status <- ok
	}()
	for deadline := time.Now().Add(30 * time.Second); images.Waiting(p, "skiff.local/three:1") < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("ImageStatus does not wait for the import in flight")
		}
	}
	close(rt.gate)
	if err := <-pulled; err != nil {
		t.Fatal(err)
	}
	if ok := <-status; !ok {
		t.Fatal("ImageStatus after the import: not present")
	}
	rt.gate, rt.entered = nil, nil
	// Present with the same digest: nothing to do.
	if _, err := p.PullImage(ctx, "sb", "skiff.local/one:1"); err != nil {
		t.Fatal(err)
	}
	// Another name of the same digest is imported under that name.
	if got, err := p.PullImage(ctx, "sb", "alias:1"); err != nil || got.ID != d {
		t.Fatalf("alias: %+v, %v", got, err)
	}
	// By digest.
	if got, err := p.PullImage(ctx, "sb", "skiff.local/one@"+d); err != nil || got.ID != d {
		t.Fatalf("by digest: %+v, %v", got, err)
	}
	if i, n := rt.counts(); i != 4 || n != 1 {
		t.Fatalf("after alias and digest: %d imports, %d pulls; want 4, 1", i, n)
	}
	// The tag moves to a new image: the next pull (imagePullPolicy Always)
	// imports it.
	two := testImage(t, "two")
	if _, err := images.Push(ctx, s, ociArchive(t, two, "skiff.local/one:1"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := p.PullImage(ctx, "sb", "skiff.local/one:1"); err != nil || got.ID != digestOf(t, two) {
		t.Fatalf("moved tag: %+v, %v", got, err)
	}
	// A name the store does not hold goes to the registry.
	if _, err := p.PullImage(ctx, "sb", "nginx:1.27"); err != nil {
		t.Fatal(err)
	}
	if i, n := rt.counts(); i != 5 || n != 2 {
		t.Fatalf("at the end: %d imports, %d pulls; want 5, 2", i, n)
	}
}
