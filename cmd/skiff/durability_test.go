package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/sdk/client"
)

const (
	durableTotal   = 2000
	durableWriters = 32
	durableLabel   = "skiff-test"
	durableValue   = "durability"
	// durableCreateTimeout bounds one create, and so how long the writers
	// take to notice that the server is gone.
	durableCreateTimeout = 5 * time.Second
)

func durableName(i int) string { return fmt.Sprintf("durable-%04d", i) }

// durableData is the data a ConfigMap named name must hold.
func durableData(name string) string {
	sum := sha256.Sum256([]byte(name))
	return name + "=" + hex.EncodeToString(sum[:12])
}

func durableConfigMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: metav1.NamespaceDefault,
			Labels:    map[string]string{durableLabel: durableValue},
		},
		Data: map[string]string{"value": durableData(name)},
	}
}

// ledger records what the writers were told.
type ledger struct {
	mu           sync.Mutex
	acked        map[string]bool // create returned success
	unknown      []string        // create failed: the write may or may not have landed
	errsBefore   []string        // errors returned before the kill was issued
	errsAfter    map[string]int  // errors after the kill, by message
	ackedAtKill  int
	attemptedSet map[string]bool
}

// TestDurabilityKill9 writes ConfigMaps from 32 clients, kill -9s the
// control plane halfway, restarts it on the same data directory and port,
// and checks that every acknowledged write survived; then it finishes the
// writes and checks that exactly durableTotal objects exist.
func TestDurabilityKill9(t *testing.T) {
	testStart := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	bin := buildSkiff(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	args := []string{"server", "--data-dir", dataDir,
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--api-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t))}

	srv, info := startServer(ctx, t, bin, args)
	conn1, c1 := connectClient(ctx, t, info.NATSURL)
	cms1 := client.For[*corev1.ConfigMap](c1)

	// Phase 1: write until half are acknowledged, then kill -9.
	queue := make(chan string, durableTotal)
	for i := range durableTotal {
		queue <- durableName(i)
	}
	led := &ledger{acked: map[string]bool{}, errsAfter: map[string]int{}, attemptedSet: map[string]bool{}}
	var (
		stop, killed atomic.Bool
		inflight     atomic.Int64
		half         = make(chan struct{})
		halfOnce     sync.Once
		wg           sync.WaitGroup
	)
	t.Cleanup(func() { stop.Store(true); wg.Wait() }) // before conn1 closes
	for range durableWriters {
		wg.Go(func() {
			for !stop.Load() {
				var name string
				select {
				case name = <-queue:
				default:
					return
				}
				inflight.Add(1)
				cctx, ccancel := context.WithTimeout(ctx, durableCreateTimeout)
				_, err := cms1.Create(cctx, durableConfigMap(name), metav1.CreateOptions{})
				ccancel()
				inflight.Add(-1)
				wasKilled := killed.Load()
				led.mu.Lock()
				led.attemptedSet[name] = true
				switch {
				case err == nil:
					led.acked[name] = true
				case !wasKilled:
					led.unknown = append(led.unknown, name)
					led.errsBefore = append(led.errsBefore, fmt.Sprintf("%s: %v", name, err))
				default:
					led.unknown = append(led.unknown, name)
					led.errsAfter[errKind(err)]++
				}
				n := len(led.acked)
				led.mu.Unlock()
				if n >= durableTotal/2 {
					halfOnce.Do(func() { close(half) })
				}
			}
		})
	}
	select {
	case <-half:
	case <-ctx.Done():
		t.Fatalf("fewer than %d creates acknowledged before the deadline", durableTotal/2)
	}
	killed.Store(true)
	inflightAtKill := inflight.Load()
	led.mu.Lock()
	led.ackedAtKill = len(led.acked)
	led.mu.Unlock()
	killAt := time.Now()
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	stop.Store(true) // writes in flight go on; no new ones start
	if _, exited := srv.wait(10 * time.Second); !exited {
		t.Fatalf("server still running 10s after SIGKILL")
	}
	wg.Wait() // each writer ends within durableCreateTimeout
	// Closing the connection drops requests it buffered while the server
	// was down, so that none of them lands after the restart.
	conn1.Close()
	staleInfo := fileExists(t, filepath.Join(dataDir, controlplane.InfoFile))

	led.mu.Lock()
	acked := len(led.acked)
	unknown := slices.Clone(led.unknown)
	ackedSet := led.acked
	errsBefore, errsAfter := led.errsBefore, led.errsAfter
	attempted := len(led.attemptedSet)
	led.mu.Unlock()
	for _, e := range errsBefore {
		t.Errorf("create failed before the kill: %s", e)
	}

	// Restart on the same directory and port, reconnect, look.
	restartAt := time.Now()
	_, info2 := startServer(ctx, t, bin, args)
	readyAfter := time.Since(restartAt)
	if info2.NATSURL != info.NATSURL {
		t.Errorf("restarted server's NATS URL = %s, want %s", info2.NATSURL, info.NATSURL)
	}
	_, c2 := connectClient(ctx, t, info2.NATSURL)
	cms2 := client.For[*corev1.ConfigMap](c2)
	found := listDurable(ctx, t, cms2)

	var missing, wrongData, strays []string
	extraLanded := 0
	for name := range ackedSet {
		if _, ok := found[name]; !ok {
			missing = append(missing, name)
		}
	}
	unknownSet := map[string]bool{}
	for _, n := range unknown {
		unknownSet[n] = true
	}
	for name, data := range found {
		if data != durableData(name) {
			wrongData = append(wrongData, name)
		}
		switch {
		case ackedSet[name]:
		case unknownSet[name]:
			extraLanded++
		default:
			strays = append(strays, name)
		}
	}
	slices.Sort(missing)
	t.Logf("phase 1: %d writers; %d acknowledged when the kill was issued, %d acknowledged in all, %d in flight at the kill, "+
		"%d failed (outcome unknown), %d attempted, %d never attempted; errors after the kill: %v",
		durableWriters, led.ackedAtKill, acked, inflightAtKill, len(unknown), attempted, durableTotal-attempted, errsAfter)
	t.Logf("restart: kill -9 to exit+writers stopped %v, restart to ready %v, stale connection file left by kill -9: %v",
		restartAt.Sub(killAt).Round(time.Millisecond), readyAfter.Round(time.Millisecond), staleInfo)
	t.Logf("after restart: %d found; %d of %d acknowledged found; %d unacknowledged also landed; %d missing; %d wrong data; %d never attempted yet present",
		len(found), acked-len(missing), acked, extraLanded, len(missing), len(wrongData), len(strays))
	if len(missing) > 0 {
		t.Errorf("%d acknowledged ConfigMaps lost by kill -9: %v", len(missing), head(missing, 20))
	}
	if len(wrongData) > 0 {
		t.Errorf("%d ConfigMaps with wrong data after restart: %v", len(wrongData), head(wrongData, 20))
	}
	if len(strays) > 0 {
		t.Errorf("%d ConfigMaps present that were never written: %v", len(strays), head(strays, 20))
	}

	// Phase 2: finish against the restarted server. A retried create that
	// meets AlreadyExists had landed before the kill.
	rest := make(chan string, durableTotal)
	for _, n := range unknown {
		rest <- n
	}
	neverAttempted := map[string]bool{}
drain:
	for {
		select {
		case n := <-queue:
			neverAttempted[n] = true
			rest <- n
		default:
			break drain
		}
	}
	close(rest)
	var (
		created, already atomic.Int64
		errMu            sync.Mutex
		errs2            []string
		wg2              sync.WaitGroup
	)
	for range durableWriters {
		wg2.Go(func() {
			for name := range rest {
				err := createWithRetry(ctx, cms2, name)
				switch {
				case err == nil:
					created.Add(1)
				case apierrors.IsAlreadyExists(err) && !neverAttempted[name]:
					already.Add(1)
				default:
					errMu.Lock()
					errs2 = append(errs2, fmt.Sprintf("%s: %v", name, err))
					errMu.Unlock()
				}
			}
		})
	}
	wg2.Wait()
	for _, e := range errs2 {
		t.Errorf("phase 2 create: %s", e)
	}

	final := listDurable(ctx, t, cms2)
	var want, got []string
	for i := range durableTotal {
		want = append(want, durableName(i))
	}
	for name, data := range final {
		got = append(got, name)
		if data != durableData(name) {
			t.Errorf("%s: data %q, want %q", name, data, durableData(name))
		}
	}
	slices.Sort(got)
	t.Logf("phase 2: %d to write (%d retried, %d never attempted): %d created, %d AlreadyExists (had landed), %d errors; final count %d (want %d)",
		len(unknown)+len(neverAttempted), len(unknown), len(neverAttempted), created.Load(), already.Load(), len(errs2), len(final), durableTotal)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ConfigMaps after phase 2 (-want +got):\n%s", diff)
	}
	if int(already.Load()) != extraLanded {
		t.Errorf("phase 2 met AlreadyExists %d times, but %d unacknowledged writes were found after the restart", already.Load(), extraLanded)
	}
	t.Logf("total %v", time.Since(testStart).Round(time.Millisecond))
}

// startServer starts `skiff <args>` and waits until it is ready, retrying
// while the process exits before that (the port can take a moment to
// free). It returns the process and the connection file's content.
func startServer(ctx context.Context, t *testing.T, bin string, args []string) (*proc, controlplane.Info) {
	t.Helper()
	dataDir := args[slices.Index(args, "--data-dir")+1]
	var lastErr error
	for attempt := 1; ctx.Err() == nil && attempt <= 3; attempt++ {
		p := startSkiff(t, bin, "", args...)
		if _, err := p.waitOutput(60*time.Second, "skiff: control plane ready"); err != nil {
			lastErr = err
			_ = p.cmd.Process.Kill()
			p.wait(10 * time.Second)
			continue
		}
		info, err := controlplane.ReadInfo(dataDir)
		if err != nil {
			t.Fatalf("after the ready line: %v", err)
		}
		return p, info
	}
	t.Fatalf("skiff %v did not become ready: %v (%v)", args, lastErr, ctx.Err())
	return nil, controlplane.Info{}
}

// connectClient connects to url and returns the connection (closed in
// t.Cleanup) and a client on it.
func connectClient(ctx context.Context, t *testing.T, url string) (*bus.Conn, *client.Client) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := bus.Connect(cctx, bus.ConnConfig{URL: url, Name: t.Name()})
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(conn.Close)
	c, err := client.New(cctx, conn)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return conn, c
}

// listDurable returns the test's ConfigMaps, name to data value.
func listDurable(ctx context.Context, t *testing.T, cms *client.Typed[*corev1.ConfigMap]) map[string]string {
	t.Helper()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	items, _, err := cms.List(lctx, metav1.NamespaceDefault, metav1.ListOptions{LabelSelector: durableLabel + "=" + durableValue})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	out := make(map[string]string, len(items))
	for _, cm := range items {
		if _, dup := out[cm.Name]; dup {
			t.Errorf("list returned %s twice", cm.Name)
		}
		out[cm.Name] = cm.Data["value"]
	}
	return out
}

// createWithRetry creates name, retrying errors other than AlreadyExists
// a few times.
func createWithRetry(ctx context.Context, cms *client.Typed[*corev1.ConfigMap], name string) error {
	var err error
	for range 3 {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = cms.Create(cctx, durableConfigMap(name), metav1.CreateOptions{})
		cancel()
		if err == nil || apierrors.IsAlreadyExists(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// errKind names an error for the figures: its API reason when it has
// one, "timeout" when the request's context ended.
func errKind(err error) string {
	if r := apierrors.ReasonForError(err); r != metav1.StatusReasonUnknown {
		return string(r)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
