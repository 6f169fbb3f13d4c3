package podio

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/sdk/api"
)

func TestParseLine(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name, line, content string
		ok                  bool
	}{
		{"simulated", "2026-12-01T10:00:00.123456789Z container c started", "container c started", true},
		{"cri full", "2026-12-01T10:00:00.123456789Z stdout F hello", "hello", true},
		{"cri partial stderr", "2026-12-01T10:00:00.123456789Z stderr P hel", "hel", true},
		{"stdout without tag", "2026-12-01T10:00:00.123456789Z stdout hello", "stdout hello", true},
		{"offset zone", "2026-12-01T11:00:00.123456789+01:00 x", "x", true},
		{"raw", "hello world", "hello world", false},
		{"empty", "", "", false},
		{"not a time", "2026/12/01 10:00:00 log.Printf", "2026/12/01 10:00:00 log.Printf", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, content, ok := parseLine([]byte(tc.line))
			if ok != tc.ok || string(content) != tc.content || ok && !ts.Equal(at) {
				t.Fatalf("parseLine(%q) = %v, %q, %v", tc.line, ts, content, ok)
			}
		})
	}
}

func TestCut(t *testing.T) {
	t0 := "2026-12-01T10:00:00Z"
	t1 := "2026-12-01T10:00:01Z"
	data := t0 + " a\n" + t1 + " b\n" + t1 + " part"
	for _, tc := range []struct {
		name        string
		data        string
		o           lineOpts
		final, full bool
		want        string
		used        int
	}{
		{"raw passes bytes", "x\ny", lineOpts{format: Raw, timestamps: true}, false, false, "x\ny", 3},
		{"partial line kept", data, lineOpts{format: Timestamped}, false, false, "a\nb\n", len(data) - len(t1+" part")},
		{"partial line at the end", data, lineOpts{format: Timestamped}, true, false, "a\nb\npart", len(data)},
		{"timestamps", data, lineOpts{format: Timestamped, timestamps: true}, true, false, t0 + " a\n" + t1 + " b\n" + t1 + " part", len(data)},
		{"since", data, lineOpts{format: Timestamped, since: time.Date(2026, 12, 1, 10, 0, 1, 0, time.UTC)}, true, false, "b\npart", len(data)},
		{"long line in pieces", t0 + " aaaa", lineOpts{format: Timestamped}, false, true, "aaaa", len(t0) + 5},
		{"untimestamped line", "plain\n", lineOpts{format: Timestamped, timestamps: true}, false, false, "plain\n", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, used := cut([]byte(tc.data), tc.o, tc.final, tc.full)
			if diff := cmp.Diff(tc.want, string(out)); diff != "" || used != tc.used {
				t.Fatalf("used %d want %d; out (-want +got):\n%s", used, tc.used, diff)
			}
		})
	}
}

func TestTailStart(t *testing.T) {
	long := strings.Repeat("y", 70<<10) // spans blocks
	for _, tc := range []struct {
		name, data string
		n          int64
		want       string
	}{
		{"empty", "", 3, ""},
		{"zero", "a\nb\n", 0, ""},
		{"fewer lines", "a\nb\n", 5, "a\nb\n"},
		{"last", "a\nb\nc\n", 1, "c\n"},
		{"two", "a\nb\nc\n", 2, "b\nc\n"},
		{"partial last line counts", "a\nb\nc", 2, "b\nc"},
		{"blank lines count", "a\n\n\n", 2, "\n\n"},
		{"across blocks", "a\n" + long + "\nz\n", 2, long + "\nz\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := strings.NewReader(tc.data)
			off, err := tailStart(r, int64(len(tc.data)), tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.data[off:]; got != tc.want {
				t.Fatalf("tail %d = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	c := func(attempt int, st runtime.ContainerState) runtime.Container {
		return runtime.Container{ID: string(rune('a' + attempt)), Attempt: attempt, State: st}
	}
	for _, tc := range []struct {
		name    string
		cs      []runtime.Container
		req     api.LogRequest
		wantID  string
		wantErr string
	}{
		{name: "none", req: api.LogRequest{Pod: "p", Container: "c", Waiting: "ErrImagePull"}, wantErr: `container "c" in pod "p" is waiting to start: ErrImagePull`},
		{name: "none, no reason", req: api.LogRequest{Pod: "p", Container: "c"}, wantErr: "waiting to start: ContainerCreating"},
		{name: "created only", cs: []runtime.Container{c(0, runtime.StateCreated)}, req: api.LogRequest{Pod: "p", Container: "c"}, wantErr: "waiting to start"},
		{name: "running", cs: []runtime.Container{c(0, runtime.StateRunning)}, wantID: "a"},
		{name: "newest", cs: []runtime.Container{c(0, runtime.StateExited), c(1, runtime.StateRunning)}, wantID: "b"},
		{name: "previous", cs: []runtime.Container{c(0, runtime.StateExited), c(1, runtime.StateRunning)}, req: api.LogRequest{Previous: true}, wantID: "a"},
		{name: "no previous", cs: []runtime.Container{c(0, runtime.StateRunning)}, req: api.LogRequest{Previous: true, Pod: "p", Container: "c"}, wantErr: `previous terminated container "c" in pod "p" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := choose(tc.cs, tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.ID != tc.wantID {
				t.Fatalf("got %q, %v; want %q", got.ID, err, tc.wantID)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	c := cursor{id: "ctr000007", attempt: 3, off: 12345}
	got, err := parseCursor(c.String())
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "x", "x/1", "/1/2", "x/-1/2", "x/1/-2", "x/a/2", "x/1/2/3"} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("parseCursor(%q) succeeded", bad)
		}
	}
}

func TestCheckNames(t *testing.T) {
	ok := api.LogRequest{Namespace: "default", Pod: "web", UID: "0f2c", Container: "c"}
	if err := checkNames(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []api.LogRequest{
		{Namespace: "../etc", Pod: "web", UID: "u", Container: "c"},
		{Namespace: "default", Pod: "a/b", UID: "u", Container: "c"},
		{Namespace: "default", Pod: "web", UID: "..", Container: "c"},
		{Namespace: "default", Pod: "web", UID: "a/b", Container: "c"},
		{Namespace: "default", Pod: "web", UID: "u", Container: "../c"},
	} {
		if err := checkNames(bad); err == nil {
			t.Errorf("checkNames(%+v) accepted", bad)
		}
	}
}

func FuzzCut(f *testing.F) {
	f.Add([]byte("2026-12-01T10:00:00Z stdout F a\nb\n2026-12-01T10:00:01Z part"), true, false, true)
	f.Add([]byte("\n\n\n"), false, true, false)
	f.Fuzz(func(t *testing.T, data []byte, timestamps, final, full bool) {
		since := time.Date(2026, 12, 1, 10, 0, 0, 500, time.UTC)
		for _, o := range []lineOpts{{format: Timestamped, timestamps: timestamps}, {format: Timestamped, since: since}, {format: Raw}} {
			out, used := cut(data, o, final, full)
			if used < 0 || used > len(data) {
				t.Fatalf("used %d of %d", used, len(data))
			}
			if o.format == Raw && (used != len(data) || string(out) != string(data)) {
				t.Fatal("raw data changed")
			}
			if final && used != len(data) {
				t.Fatalf("final: used %d of %d", used, len(data))
			}
		}
		if _, err := parseCursor(string(data)); err == nil {
			c, _ := parseCursor(string(data))
			if again, err := parseCursor(c.String()); err != nil || again != c {
				t.Fatalf("cursor %q does not round-trip", data)
			}
		}
	})
}

func BenchmarkCut(b *testing.B) {
	var data []byte
	for i := 0; len(data) < 64<<10; i++ {
		data = append(data, "2026-12-01T10:00:00.123456789Z stdout F GET /healthz 200 0.2ms request id 0f2c8e\n"...)
	}
	data = data[:64<<10]
	for _, o := range []lineOpts{{format: Raw}, {format: Timestamped}, {format: Timestamped, timestamps: true, since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		b.Run(map[Format]string{Raw: "raw", Timestamped: "timestamped"}[o.format]+map[bool]string{true: "+ts", false: ""}[o.timestamps], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				cut(data, o, false, true)
			}
		})
	}
}
