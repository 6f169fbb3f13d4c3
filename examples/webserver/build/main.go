// Command build compiles examples/webserver (static, linux) and packs it
// into an image archive in-process with go-containerregistry: no docker,
// no registry, nothing from outside the module.
//
//	go run ./examples/webserver/build -o web.tar               # docker archive
//	go run ./examples/webserver/build -o web.tar -format oci   # OCI layout archive
//
// The image holds one file, /webserver, run as the entrypoint; it listens
// on :8080.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// DefaultRef is the image's name in the archive.
const DefaultRef = "skiff.local/examples/webserver:latest"

const pkg = "github.com/skiffhq/skiff/examples/webserver"

func main() {
	out := flag.String("o", "web.tar", "archive to write")
	ref := flag.String("ref", DefaultRef, "image name in the archive")
	format := flag.String("format", "docker", "archive format: docker or oci")
	arch := flag.String("arch", runtime.GOARCH, "GOARCH of the image")
	flag.Parse()
	if err := run(*out, *ref, *format, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%s archive, image %s)\n", *out, *format, *ref)
}

func run(out, ref, format, arch string) error {
	tmp, err := os.MkdirTemp("", "webserver-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "webserver")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	img, err := Image(bin, arch)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	switch format {
	case "docker":
		err = WriteDocker(f, ref, img)
	case "oci":
		err = WriteOCI(f, ref, img)
	default:
		err = fmt.Errorf("unknown format %q (want docker or oci)", format)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
	}
	return err
}

// Image is a one-layer image holding the binary at /webserver as its
// entrypoint.
func Image(binary, arch string) (v1.Image, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Name: "webserver", Mode: 0o755, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
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
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	// containerd matches images against its platform: OS and
	// architecture must be set (empty.Image leaves them blank).
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint = []string{"/webserver"}
	cf.Config.Env = []string{"PATH=/"}
	cf.Config.WorkingDir = "/"
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	return mutate.ConfigFile(img, cf)
}

// WriteDocker writes img as a docker archive (docker save's format) tagged ref.
func WriteDocker(w io.Writer, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.Write(tag, img, w)
}

// WriteOCI writes img as a tar of an OCI image layout whose index names it
// ref (the io.containerd.image.name and org.opencontainers.image.ref.name
// annotations), which containerd's import keeps with the manifest digest.
func WriteOCI(w io.Writer, ref string, img v1.Image) error {
	dir, err := os.MkdirTemp("", "webserver-oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          tag.Name(),
		"org.opencontainers.image.ref.name": tag.TagStr(),
	})); err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	return tw.Close()
}
