package agent

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestProject(t *testing.T) {
	data := map[string]string{"a": "1", "b": "2"}
	mode := func(m int32) *int32 { return &m }
	yes := true
	tests := []struct {
		name     string
		items    []corev1.KeyToPath
		def      *int32
		optional *bool
		want     map[string]file
		err      string
	}{
		{name: "all keys, default mode", want: map[string]file{"a": {[]byte("1"), 0o644}, "b": {[]byte("2"), 0o644}}},
		{name: "defaultMode", def: mode(0o400), want: map[string]file{"a": {[]byte("1"), 0o400}, "b": {[]byte("2"), 0o400}}},
		{name: "items with paths and modes", def: mode(0o440),
			items: []corev1.KeyToPath{{Key: "a", Path: "dir/x"}, {Key: "b", Path: "y", Mode: mode(0o600)}},
			want:  map[string]file{"dir/x": {[]byte("1"), 0o440}, "y": {[]byte("2"), 0o600}}},
		{name: "missing item key", items: []corev1.KeyToPath{{Key: "c", Path: "c"}}, err: `references non-existent key "c"`},
		{name: "missing item key, optional", optional: &yes, items: []corev1.KeyToPath{{Key: "c", Path: "c"}, {Key: "a", Path: "a"}},
			want: map[string]file{"a": {[]byte("1"), 0o644}}},
		{name: "absolute item path", items: []corev1.KeyToPath{{Key: "a", Path: "/etc/x"}}, err: "must be relative"},
		{name: "escaping item path", items: []corev1.KeyToPath{{Key: "a", Path: "x/../../y"}}, err: "must be relative"},
		{name: "dotdot item path", items: []corev1.KeyToPath{{Key: "a", Path: "..data"}}, err: "must be relative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := project(data, tc.items, tc.def, tc.optional, "configmap", "cm")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(file{})); d != "" {
				t.Errorf("files (-want +got):\n%s", d)
			}
		})
	}
}

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		name string
		path string
		typ  corev1.HostPathType
		err  string
	}{
		{"unset, missing", filepath.Join(dir, "nope"), corev1.HostPathUnset, ""},
		{"directory", dir, corev1.HostPathDirectory, ""},
		{"directory, is a file", f, corev1.HostPathDirectory, "is not a directory"},
		{"directory, missing", filepath.Join(dir, "nope"), corev1.HostPathDirectory, "does not exist"},
		{"directory or create", filepath.Join(dir, "new/sub"), corev1.HostPathDirectoryOrCreate, ""},
		{"directory or create, is a file", f, corev1.HostPathDirectoryOrCreate, "is not a directory"},
		{"file", f, corev1.HostPathFile, ""},
		{"file, is a directory", dir, corev1.HostPathFile, "is not a file"},
		{"file or create", filepath.Join(dir, "made/file"), corev1.HostPathFileOrCreate, ""},
		{"file or create, is a directory", dir, corev1.HostPathFileOrCreate, "is not a file"},
		{"socket", sock, corev1.HostPathSocket, ""},
		{"socket, is a file", f, corev1.HostPathSocket, "is not a socket"},
		{"char device", "/dev/null", corev1.HostPathCharDev, ""},
		{"block device, is a char device", "/dev/null", corev1.HostPathBlockDev, "is not a block device"},
		{"relative", "rel/path", corev1.HostPathUnset, "not absolute"},
		{"unknown type", dir, "Weird", "unknown type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkHostPath(tc.path, tc.typ)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("checkHostPath: %v, want %q", err, tc.err)
			}
		})
	}
	if st, err := os.Stat(filepath.Join(dir, "new/sub")); err != nil || !st.IsDir() {
		t.Errorf("DirectoryOrCreate did not create the directory: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "made/file")); err != nil || !st.Mode().IsRegular() {
		t.Errorf("FileOrCreate did not create the file: %v", err)
	}
}

func TestSubPath(t *testing.T) {
	dir := t.TempDir()
	vol := volume{path: dir}
	if err := os.Symlink("/etc", filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, sub, err string }{
		{"none", "", ""},
		{"created", "a/b", ""},
		{"dotdot", "../x", "without '..'"},
		{"absolute", "/etc", "relative"},
		{"symlink out", "escape", "outside the volume"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := subPath(vol, tc.sub)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("subPath: %v, want %q", err, tc.err)
			}
		})
	}
	if _, err := subPath(volume{path: dir, readOnly: true}, "missing"); err == nil {
		t.Error("a missing subPath of a read-only volume was accepted")
	}
}

// TestWriteAtomic: the volume shows the files through ..data; an update
// switches the link and drops what is gone; unchanged content is not
// rewritten.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	if err := writeAtomic(dir, map[string]file{"a": {[]byte("1"), 0o400}, "d/b": {[]byte("2"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	if read("a") != "1" || read("d/b") != "2" {
		t.Fatalf("after first write: a=%q d/b=%q", read("a"), read("d/b"))
	}
	if st, _ := os.Stat(filepath.Join(dir, "a")); st.Mode().Perm() != 0o400 {
		t.Errorf("mode of a: %v, want 0400", st.Mode().Perm())
	}
	first, _ := os.Readlink(filepath.Join(dir, dataLink))
	if err := writeAtomic(dir, map[string]file{"a": {[]byte("1"), 0o400}, "d/b": {[]byte("2"), 0o644}}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, dataLink)); again != first {
		t.Errorf("unchanged content was rewritten: %s → %s", first, again)
	}
	if err := writeAtomic(dir, map[string]file{"a": {[]byte("3"), 0o400}}); err != nil {
		t.Fatal(err)
	}
	if read("a") != "3" || !strings.HasPrefix(read("d/b"), "<") {
		t.Errorf("after update: a=%q d/b=%q, want 3 and gone", read("a"), read("d/b"))
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 { // a, ..data, one timestamped directory
		t.Errorf("entries after update: %v", names)
	}
}

func TestReadEnd(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	var b strings.Builder
	for i := range 100 {
		b.WriteString("line" + strconv.Itoa(i) + "\n")
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		max       int64
		lines     int
		tail      bool
		wantStart string
		wantLen   int
	}{
		{"head", 10, 0, false, "line0\nline", 10},
		{"tail bytes", 12, 0, true, "ne98\nline99\n", 12},
		{"tail lines", 2048, 3, true, "line97\n", len("line97\nline98\nline99\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readEnd(p, tc.max, tc.lines, tc.tail)
			if !strings.HasPrefix(got, tc.wantStart) || len(got) != tc.wantLen {
				t.Errorf("readEnd = %q", got)
			}
		})
	}
	if got := readEnd(filepath.Join(t.TempDir(), "missing"), 10, 0, false); got != "" {
		t.Errorf("missing file: %q", got)
	}
}
