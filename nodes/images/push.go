package images

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/skiffhq/skiff/bus/blobs"
)

// Annotations of an OCI index entry that name the image.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

// Metadata keys of a stored image object.
const (
	metaNames  = "names"
	metaFormat = "format"
)

// ErrNotArchive: the file is not an image archive Skiff can read.
var ErrNotArchive = errors.New("not an image archive (want a docker save or OCI layout tar)")

// Pushed is what Push stored.
type Pushed struct {
	// Digest is the image's manifest digest, the object's name.
	Digest string
	// Names are the normalized names linked to it.
	Names []string
	// Size is the stored archive's size in bytes.
	Size uint64
	// Existed: the store already held this digest, so nothing was
	// uploaded (the names were linked again).
	Existed bool
}

// Normalize turns an image reference as pods write it into the name
// containerd and the store use (busybox → docker.io/library/busybox:latest).
func Normalize(ref string) (string, error) {
	n, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", ref, err)
	}
	return n.String(), nil
}

// Push stores the image archive at path in s, under its manifest digest,
// and links names (default: the names the archive gives) to it.
func Push(ctx context.Context, s *blobs.Store, path string, names []string) (Pushed, error) {
	tmp, err := os.MkdirTemp("", "skiff-image-")
	if err != nil {
		return Pushed{}, err
	}
	defer os.RemoveAll(tmp)
	img, archived, err := load(path, filepath.Join(tmp, "in"))
	if err != nil {
		return Pushed{}, err
	}
	if len(names) == 0 {
		names = archived
	}
	if len(names) == 0 {
		return Pushed{}, fmt.Errorf("%s names no image: give a name (--name)", path)
	}
	var norm []string
	for _, n := range names {
		nn, err := Normalize(n)
		if err != nil {
			return Pushed{}, err
		}
		if !strings.Contains(nn, "@") && !slices.Contains(norm, nn) {
			norm = append(norm, nn)
		}
	}
	if len(norm) == 0 {
		return Pushed{}, fmt.Errorf("%s: no name:tag to link (a digest reference names no tag)", path)
	}
	h, err := img.Digest()
	if err != nil {
		return Pushed{}, fmt.Errorf("%s: manifest digest: %w", path, err)
	}
	digest := h.String()
	out := Pushed{Digest: digest, Names: norm}
	if in, err := s.Stat(ctx, digest); err == nil && in.Target == "" {
		out.Existed, out.Size = true, in.Size
	} else {
		dir := filepath.Join(tmp, "oci")
		lp, err := layout.Write(dir, empty.Index)
		if err != nil {
			return Pushed{}, fmt.Errorf("write OCI layout: %w", err)
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{annotationImageName: norm[0]})); err != nil {
			return Pushed{}, fmt.Errorf("write OCI layout: %w", err)
		}
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			pw.CloseWithError(tarDir(pw, dir))
		}()
		in, err := s.Put(ctx, digest, pr, map[string]string{metaNames: strings.Join(norm, ","), metaFormat: "oci-archive"})
		pr.CloseWithError(errors.New("upload ended"))
		<-done
		if err != nil {
			return Pushed{}, err
		}
		out.Size = in.Size
	}
	for _, n := range norm {
		if err := s.Link(ctx, n, digest); err != nil {
			return Pushed{}, err
		}
	}
	return out, nil
}

// load reads the one image of a docker or OCI archive and the names the
// archive gives it; an OCI archive is extracted under dir.
func load(path, dir string) (v1.Image, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	entries, err := tarNames(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrNotArchive, err)
	}
	switch {
	case entries["manifest.json"]:
		m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrNotArchive, err)
		}
		if len(m) != 1 {
			return nil, nil, fmt.Errorf("%s holds %d images; push one at a time", path, len(m))
		}
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrNotArchive, err)
		}
		return img, m[0].RepoTags, nil
	case entries["index.json"] && entries["oci-layout"]:
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, nil, err
		}
		if err := untar(f, dir); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return loadLayout(path, dir)
	}
	return nil, nil, fmt.Errorf("%s: %w: no manifest.json or index.json", path, ErrNotArchive)
}

func loadLayout(path, dir string) (v1.Image, []string, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrNotArchive, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrNotArchive, err)
	}
	if len(im.Manifests) != 1 {
		return nil, nil, fmt.Errorf("%s holds %d index entries; push one image at a time", path, len(im.Manifests))
	}
	d := im.Manifests[0]
	if !d.MediaType.IsImage() {
		return nil, nil, fmt.Errorf("%s: the index entry is a %s: push one platform's image", path, d.MediaType)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", path, ErrNotArchive, err)
	}
	var names []string
	if n := d.Annotations[annotationImageName]; n != "" {
		names = append(names, n)
	} else if n := d.Annotations[annotationRefName]; strings.ContainsAny(n, ":/") {
		names = append(names, n)
	}
	return img, names, nil
}

// tarNames lists the regular files of a tar stream.
func tarNames(r io.Reader) (map[string]bool, error) {
	tr := tar.NewReader(r)
	out := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if len(out) == 0 {
				return nil, errors.New("empty tar")
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(h.Name, "./")] = true
	}
}

// untar extracts the regular files and directories of a tar stream under
// dir, refusing names that leave it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(strings.TrimPrefix(h.Name, "./"))
		if !filepath.IsLocal(name) {
			return fmt.Errorf("%w: entry %q leaves the archive", ErrNotArchive, h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// tarDir writes dir's files as a tar stream, index.json first so that a
// reader can rename the image before the blobs go by.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(files, func(a, b string) int {
		switch {
		case a == "index.json":
			return -1
		case b == "index.json":
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, rel := range files {
		if err := addFile(tw, dir, rel); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, dir, rel string) error {
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read-only
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: st.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// renameIndex copies an OCI archive from r to w with the image name of
// its index entries set to name, so that the runtime imports it under the
// name the pod asked for.
func renameIndex(w io.Writer, r io.Reader, name string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if strings.TrimPrefix(h.Name, "./") != "index.json" {
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 4<<20))
		if err != nil {
			return err
		}
		var idx v1.IndexManifest
		if err := json.Unmarshal(b, &idx); err != nil {
			return fmt.Errorf("index.json: %w", err)
		}
		for i := range idx.Manifests {
			if idx.Manifests[i].Annotations == nil {
				idx.Manifests[i].Annotations = map[string]string{}
			}
			idx.Manifests[i].Annotations[annotationImageName] = name
		}
		if b, err = json.Marshal(idx); err != nil {
			return err
		}
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
}

// Listed is one image name in the store.
type Listed struct {
	Name, Digest string
	Size         uint64
	Pushed       time.Time
}

// List describes the images in s: one entry per name, sorted by name.
func List(ctx context.Context, s *blobs.Store) ([]Listed, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	objects := map[string]blobs.Info{}
	for _, in := range all {
		if in.Target == "" {
			objects[in.Name] = in
		}
	}
	var out []Listed
	for _, in := range all {
		if in.Target == "" {
			continue
		}
		out = append(out, Listed{Name: in.Name, Digest: in.Target, Size: objects[in.Target].Size, Pushed: in.ModTime})
	}
	slices.SortFunc(out, func(a, b Listed) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
