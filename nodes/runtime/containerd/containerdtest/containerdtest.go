package containerdtest

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/nodes/runtime/containerd"
)

// Need skips the test with a one-line reason when containerd cannot run
// here, and fails it instead under CI=true.
func Need(t testing.TB) {
	t.Helper()
	if err := containerd.CanRun(""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v (run .ci/install-containerd.sh)", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// StateDir is a new short directory (unix socket paths are limited to 108
// bytes). Cleanup checks that nothing is left mounted under it (and
// unmounts what is), then removes it; register it before the runtime's
// cleanup so that it runs after.
func StateDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "skiff-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		for line := range strings.Lines(string(mi)) {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
				t.Errorf("left mounted: %s", f[4])
				_ = unix.Unmount(f[4], unix.MNT_DETACH)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove state dir: %v", err)
		}
	})
	return dir
}

// Network is a pod bridge and range of a test's own, so that tests of
// several packages running at once on one host never share addresses.
type Network struct {
	Bridge  string // "skt" and 8 hex digits
	PodCIDR string // a random /24 of 100.64.0.0/10
}

// NewNetwork picks a bridge name and pod range for one test and deletes
// the bridge (which the CNI bridge plugin creates on first use and never
// removes) at cleanup.
func NewNetwork(t testing.TB) Network {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	n := binary.BigEndian.Uint16(b[4:]) % (64 * 256)
	nw := Network{Bridge: "skt" + hex.EncodeToString(b[:4]), PodCIDR: fmt.Sprintf("100.%d.%d.0/24", 64+n/256, n%256)}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "link", "del", nw.Bridge).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
			t.Logf("delete bridge %s: %v: %s", nw.Bridge, err, out)
		}
	})
	return nw
}

// Config is a containerd.Config for one test: its own state dir and
// network. The caller creates the runtime and closes it.
func Config(t testing.TB) containerd.Config {
	t.Helper()
	nw := NewNetwork(t)
	return containerd.Config{StateDir: StateDir(t), PodCIDR: nw.PodCIDR, Bridge: nw.Bridge}
}

// Busybox is the image reference BusyboxArchive tags.
const Busybox = "skiff.test/busybox:1"

// BusyboxImage is an image of Debian's static busybox (/bin/busybox) with
// the applets tests use (sh, sleep, wget, cat, httpd, ...), PATH=/bin.
func BusyboxImage() (v1.Image, error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "etc/", "www/"} {
		_ = tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir})
	}
	_ = tw.WriteHeader(&tar.Header{Name: "tmp/", Mode: 0o1777, Typeflag: tar.TypeDir})
	_ = tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(bb)
	for _, a := range []string{"sh", "sleep", "wget", "cat", "echo", "dd", "true", "pwd", "httpd", "ls", "stat", "env", "nc", "ip", "touch", "mount", "id", "head", "rm", "grep", "mkdir"} {
		_ = tw.WriteHeader(&tar.Header{Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, Typeflag: tar.TypeSymlink})
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Config.Cmd = []string{"sh"}
	return mutate.ConfigFile(img, cf)
}

// BusyboxArchive writes BusyboxImage as a docker archive tagged Busybox
// into a file under t.TempDir() and returns its path, for
// containerd.Runtime.Import.
func BusyboxArchive(t testing.TB) string {
	t.Helper()
	img, err := BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(Busybox)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "busybox.tar")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// WebserverArchive builds examples/webserver's image with its build
// program (go run ./examples/webserver/build) from the repository root
// root, and returns the archive's path. Its reference is
// skiff.local/examples/webserver:latest.
func WebserverArchive(t testing.TB, root string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "web.tar")
	cmd := exec.Command(filepath.Join(goruntime.GOROOT(), "bin", "go"), "run", "./examples/webserver/build", "-o", p)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./examples/webserver/build: %v\n%s", err, out)
	}
	return p
}

// Webserver is the reference of the image WebserverArchive builds.
const Webserver = "skiff.local/examples/webserver:latest"
