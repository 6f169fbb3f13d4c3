package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestBuild runs the program as `go run` does and reads the archive back.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the webserver; skipped with -short")
	}
	dir := t.TempDir()
	for _, format := range []string{"docker", "oci"} {
		out := filepath.Join(dir, format+".tar")
		if err := run(out, DefaultRef, format, "amd64"); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if fi, err := os.Stat(out); err != nil || fi.Size() < 1<<20 {
			t.Fatalf("%s archive: %v %v", format, fi, err)
		}
	}
	tag, _ := name.NewTag(DefaultRef)
	img, err := tarball.ImageFromPath(filepath.Join(dir, "docker.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/webserver" {
		t.Errorf("config: os %q arch %q entrypoint %v", cf.OS, cf.Architecture, cf.Config.Entrypoint)
	}
}
