package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Volume kinds, the directory names under a pod's volume directory (the
// kubelet's kubernetes.io~empty-dir and so on).
const (
	kindEmptyDir  = "empty-dir"
	kindConfigMap = "configmap"
	kindSecret    = "secret"
)

// defaultFileMode is the API's default mode of projected files.
const defaultFileMode = 0o644

// podVolumeDir is where a pod's volumes live ("" when the agent keeps
// none).
func (a *Agent) podVolumeDir(uid types.UID) string {
	if a.cfg.VolumeDir == "" {
		return ""
	}
	return filepath.Join(a.cfg.VolumeDir, string(uid))
}

// volume is a pod volume set up on the node.
type volume struct {
	path     string // on the host; "" when the agent keeps no volumes
	readOnly bool   // configMap and secret volumes are always read-only
	managed  bool   // the agent owns path (emptyDir, configMap, secret)
}

// mounts sets up the volumes container c mounts and returns its mounts.
// Errors are the container's CreateContainerConfigError.
func (w *worker) mounts(ctx context.Context, pod *corev1.Pod, c *corev1.Container, env []runtime.EnvVar) ([]runtime.Mount, error) {
	if len(c.VolumeMounts) == 0 {
		return nil, nil
	}
	specs := map[string]*corev1.Volume{}
	for i := range pod.Spec.Volumes {
		specs[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	vols := map[string]volume{}
	var out []runtime.Mount
	for _, m := range c.VolumeMounts {
		spec := specs[m.Name]
		if spec == nil {
			return nil, fmt.Errorf("volumeMount %q: the pod has no volume of that name", m.Name)
		}
		v, ok := vols[m.Name]
		if !ok {
			var err error
			if v, err = w.setUpVolume(ctx, pod, spec); err != nil {
				return nil, fmt.Errorf("MountVolume.SetUp failed for volume %q: %w", m.Name, err)
			}
			vols[m.Name] = v
		}
		if v.path == "" {
			continue
		}
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = expand(m.SubPathExpr, func(name string) (string, bool) {
				for _, e := range env {
					if e.Name == name {
						return e.Value, true
					}
				}
				return "", false
			})
		}
		host, err := subPath(v, sub)
		if err != nil {
			return nil, fmt.Errorf("volumeMount %q: %w", m.Name, err)
		}
		out = append(out, runtime.Mount{HostPath: host, ContainerPath: m.MountPath, ReadOnly: m.ReadOnly || v.readOnly})
	}
	return out, nil
}

// subPath resolves a volumeMount's subPath inside the volume: relative,
// with no "..", and (after symlinks) still inside the volume. A missing
// subPath of a writable volume is created as a directory, as the kubelet
// does.
func subPath(v volume, sub string) (string, error) {
	if sub == "" {
		return v.path, nil
	}
	if filepath.IsAbs(sub) || slices.Contains(strings.Split(filepath.ToSlash(sub), "/"), "..") {
		return "", fmt.Errorf("subPath %q must be a relative path without '..'", sub)
	}
	p := filepath.Join(v.path, sub)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) && !v.readOnly {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", fmt.Errorf("subPath %q: %w", sub, err)
		}
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("subPath %q: %w", sub, err)
	}
	root, err := filepath.EvalSymlinks(v.path)
	if err != nil {
		return "", fmt.Errorf("subPath %q: %w", sub, err)
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return "", fmt.Errorf("subPath %q resolves outside the volume", sub)
	}
	return real, nil
}

// setUpVolume makes one volume ready on the host (idempotent: an emptyDir
// keeps its content across container restarts; configMap and secret
// contents are brought up to date).
func (w *worker) setUpVolume(ctx context.Context, pod *corev1.Pod, spec *corev1.Volume) (volume, error) {
	dir := w.a.podVolumeDir(pod.UID)
	at := func(kind string) string {
		if dir == "" {
			return ""
		}
		return filepath.Join(dir, kind, spec.Name)
	}
	src := spec.VolumeSource
	switch {
	case src.EmptyDir != nil:
		v := volume{path: at(kindEmptyDir), managed: true}
		if v.path == "" {
			return v, nil
		}
		var size int64
		if src.EmptyDir.SizeLimit != nil {
			size = src.EmptyDir.SizeLimit.Value()
		}
		return v, makeDir(v.path, src.EmptyDir.Medium == corev1.StorageMediumMemory, size)
	case src.HostPath != nil:
		t := corev1.HostPathUnset
		if src.HostPath.Type != nil {
			t = *src.HostPath.Type
		}
		return volume{path: src.HostPath.Path}, checkHostPath(src.HostPath.Path, t)
	case src.ConfigMap != nil:
		s := src.ConfigMap
		data, err := w.configMap(ctx, pod.Namespace, s.Name, s.Optional)
		if err != nil {
			return volume{}, err
		}
		files, err := project(data, s.Items, s.DefaultMode, s.Optional, "configmap", s.Name)
		if err != nil {
			return volume{}, err
		}
		v := volume{path: at(kindConfigMap), readOnly: true, managed: true}
		if v.path == "" {
			return v, nil
		}
		if err := makeDir(v.path, false, 0); err != nil {
			return volume{}, err
		}
		return v, writeAtomic(v.path, files)
	case src.Secret != nil:
		s := src.Secret
		data, err := w.secret(ctx, pod.Namespace, s.SecretName, s.Optional)
		if err != nil {
			return volume{}, err
		}
		files, err := project(data, s.Items, s.DefaultMode, s.Optional, "secret", s.SecretName)
		if err != nil {
			return volume{}, err
		}
		v := volume{path: at(kindSecret), readOnly: true, managed: true}
		if v.path == "" {
			return v, nil
		}
		// On tmpfs, as the kubelet does, so that secrets never reach the disk.
		if err := makeDir(v.path, true, 0); err != nil {
			return volume{}, err
		}
		return v, writeAtomic(v.path, files)
	}
	return volume{}, fmt.Errorf("%w: only emptyDir, hostPath, configMap and secret volumes are supported", runtime.ErrUnsupported)
}

// refreshVolumes brings the configMap and secret volumes a pod already
// has on the node up to date, as the kubelet does periodically: running
// containers see the new content through ..data (not through subPath
// mounts, which pin a file). A missing source keeps the old content.
func (w *worker) refreshVolumes(ctx context.Context, pod *corev1.Pod) {
	dir := w.a.podVolumeDir(pod.UID)
	if dir == "" || pod.DeletionTimestamp != nil {
		return
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		kind := kindConfigMap
		switch {
		case v.ConfigMap != nil:
		case v.Secret != nil:
			kind = kindSecret
		default:
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, kind, v.Name)); err != nil {
			continue // not set up yet: the container start does it
		}
		if _, err := w.setUpVolume(ctx, pod, v); err != nil {
			w.a.log.Info("volume not refreshed", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name, "err", err)
		}
	}
}

// file is one projected file.
type file struct {
	data []byte
	mode os.FileMode
}

// project computes the files of a configMap or secret volume: every key,
// or only items (each at its path, with its mode); defaultMode (0644 when
// nil) for the others. A missing key is an error unless optional.
func project(data map[string]string, items []corev1.KeyToPath, defaultMode *int32, optional *bool, kind, name string) (map[string]file, error) {
	mode := os.FileMode(defaultFileMode)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode & 0o777)
	}
	out := map[string]file{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = file{[]byte(v), mode}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return nil, fmt.Errorf("%s %q references non-existent key %q", kind, name, it.Key)
		}
		p := path.Clean(it.Path)
		if it.Path == "" || path.IsAbs(p) || strings.HasPrefix(p, "..") {
			return nil, fmt.Errorf("%s %q: item path %q must be relative, without '..' and not start with '..'", kind, name, it.Path)
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode & 0o777)
		}
		out[p] = file{[]byte(v), m}
	}
	return out, nil
}

// checkHostPath applies a hostPath volume's type check, creating what the
// *OrCreate types ask for.
func checkHostPath(p string, t corev1.HostPathType) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("hostPath %q is not absolute", p)
	}
	st, err := os.Stat(p)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return fmt.Errorf("hostPath %q: %w", p, err)
	}
	is := func(want fs.FileMode, what string) error {
		if missing {
			return fmt.Errorf("hostPath type check failed: %s is not a %s (it does not exist)", p, what)
		}
		if st.Mode().Type() != want {
			return fmt.Errorf("hostPath type check failed: %s is not a %s", p, what)
		}
		return nil
	}
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if missing {
			return os.MkdirAll(p, 0o755)
		}
		return is(fs.ModeDir, "directory")
	case corev1.HostPathDirectory:
		return is(fs.ModeDir, "directory")
	case corev1.HostPathFileOrCreate:
		if missing {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		return is(0, "file")
	case corev1.HostPathFile:
		return is(0, "file")
	case corev1.HostPathSocket:
		return is(fs.ModeSocket, "socket")
	case corev1.HostPathCharDev:
		return is(fs.ModeDevice|fs.ModeCharDevice, "character device")
	case corev1.HostPathBlockDev:
		return is(fs.ModeDevice, "block device")
	}
	return fmt.Errorf("hostPath %q: unknown type %q", p, t)
}

// makeDir creates a volume directory (0777, as the kubelet's emptyDir, so
// that containers of any user can write it; its parent is 0750) and
// mounts a tmpfs on it when memory is set and none is mounted yet.
func makeDir(dir string, memory bool, size int64) error {
	if err := os.MkdirAll(filepath.Dir(filepath.Dir(dir)), 0o750); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !memory || isMountPoint(dir) {
		return os.Chmod(dir, 0o777)
	}
	opts := "mode=0777"
	if size > 0 {
		opts += fmt.Sprintf(",size=%d", size)
	}
	err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts)
	if errors.Is(err, unix.EPERM) {
		// Not root (simulated nodes run unprivileged): a plain directory.
		return os.Chmod(dir, 0o777)
	}
	if err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether dir is on another device than its parent.
func isMountPoint(dir string) bool {
	var a, b unix.Stat_t
	if unix.Lstat(dir, &a) != nil || unix.Lstat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}

// dataLink is the symlink to the current version of a projected volume,
// as the kubelet's atomic writer names it.
const dataLink = "..data"

// writeAtomic makes dir show exactly files, switching from the previous
// content to the new in one rename, as the kubelet's atomic writer does:
// the files are written into a new hidden timestamped directory, the
// symlink ..data is replaced to point at it, and each top-level name is a
// symlink through ..data. A running container (which mounts dir) sees the
// old or the new content, never a mix. Unchanged content is left alone.
func writeAtomic(dir string, files map[string]file) error {
	if same(dir, files) {
		return nil
	}
	ts, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		f := files[p]
		full := filepath.Join(ts, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(full, f.mode); err != nil { // not subject to the umask
			return err
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	tmp := filepath.Join(dir, dataLink+"_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return err
	}
	top := map[string]bool{}
	for p := range files {
		top[strings.Split(p, "/")[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataLink, name) {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "..") && !top[e.Name()] {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	if old != "" && old != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// same reports whether dir's current version holds exactly files.
func same(dir string, files map[string]file) bool {
	cur := filepath.Join(dir, dataLink)
	if _, err := os.Stat(cur); err != nil {
		return false
	}
	n := 0
	err := filepath.WalkDir(cur+"/", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(cur, p)
		f, ok := files[filepath.ToSlash(rel)]
		if !ok {
			return fs.ErrNotExist
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.mode {
			return fs.ErrNotExist
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, f.data) {
			return fs.ErrNotExist
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}

// removeVolumes unmounts and removes a pod's volume directory once the
// pod is gone. hostPath volumes are not under it and are never touched.
func (a *Agent) removeVolumes(uid types.UID) error {
	dir := a.podVolumeDir(uid)
	if dir == "" {
		return nil
	}
	kinds, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range kinds {
		vols, _ := os.ReadDir(filepath.Join(dir, k.Name()))
		for _, v := range vols {
			p := filepath.Join(dir, k.Name(), v.Name())
			if isMountPoint(p) {
				if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
					return fmt.Errorf("unmount %s: %w", p, err)
				}
			}
		}
	}
	return os.RemoveAll(dir)
}

// volumeUIDs are the pod UIDs that have a volume directory.
func (a *Agent) volumeUIDs() []types.UID {
	if a.cfg.VolumeDir == "" {
		return nil
	}
	ents, _ := os.ReadDir(a.cfg.VolumeDir)
	var out []types.UID
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, types.UID(e.Name()))
		}
	}
	return out
}
