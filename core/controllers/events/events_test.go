package events_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/sdk/client"
)

func TestRecordAndCorrelate(t *testing.T) {
	e := testenv.Start(t)
	cm, err := client.For[*corev1.ConfigMap](e.Client).Create(t.Context(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node, err := client.For[*corev1.Node](e.Client).Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := events.New(events.Config{Client: e.Client, Host: "host-1"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	r := rec.Named("test-controller")
	for range 3 {
		r.Normal(cm, "Synced", "synced %s", cm.Name)
	}
	r.Warning(cm, "Failed", "went wrong")
	r.Normal(node, "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
	var nilRec *events.Recorder
	nilRec.Named("x").Normal(cm, "Ignored", "nothing") // a nil recorder records nothing

	testenv.Eventually(t, 10*time.Second, func() error {
		evs, _, err := client.For[*corev1.Event](e.Client).List(t.Context(), "", metav1.ListOptions{})
		if err != nil {
			return err
		}
		byReason := map[string]*corev1.Event{}
		for _, ev := range evs {
			byReason[ev.Reason] = ev
		}
		s, f, n := byReason["Synced"], byReason["Failed"], byReason["NodeNotReady"]
		if len(evs) != 3 || s == nil || f == nil || n == nil {
			return fmt.Errorf("%d events: %v", len(evs), byReason)
		}
		if s.Count != 3 || s.Type != corev1.EventTypeNormal || s.Message != "synced cfg" {
			return fmt.Errorf("correlated event: count %d type %s message %q", s.Count, s.Type, s.Message)
		}
		io := s.InvolvedObject
		if io.Kind != "ConfigMap" || io.APIVersion != "v1" || io.Name != "cfg" || io.Namespace != "default" || io.UID != cm.UID {
			return fmt.Errorf("involvedObject %+v", io)
		}
		if s.Source.Component != "test-controller" || s.Source.Host != "host-1" || s.ReportingController != "test-controller" {
			return fmt.Errorf("source %+v", s.Source)
		}
		if f.Type != corev1.EventTypeWarning || f.Count != 1 {
			return fmt.Errorf("warning %+v", f)
		}
		// A cluster-scoped object's events go to default.
		if n.Namespace != "default" || n.InvolvedObject.Kind != "Node" || n.InvolvedObject.Namespace != "" {
			return fmt.Errorf("node event in %q about %+v", n.Namespace, n.InvolvedObject)
		}
		return nil
	})
	if rec.Dropped() != 0 {
		t.Fatalf("%d events dropped", rec.Dropped())
	}
}

func TestFullBufferDrops(t *testing.T) {
	e := testenv.Start(t)
	rec := events.New(events.Config{Client: e.Client, Buffer: 2})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default", UID: "u"}}
	for i := range 5 {
		rec.Normal(cm, "R", "%d", i) // nothing drains: Run is not running
	}
	if rec.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", rec.Dropped())
	}
}

// TestSimilarEventsCombineAndSpamIsDropped records 40 different creations
// about one object: 10 are written as they are, the next 15 into one
// combined Event, and the rest are dropped by the spam filter.
func TestSimilarEventsCombineAndSpamIsDropped(t *testing.T) {
	e := testenv.Start(t)
	rec := events.New(events.Config{Client: e.Client, Component: "replicaset-controller", Buffer: 100})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = rec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	rs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}}
	for i := range 40 {
		rec.Normal(rs, "SuccessfulCreate", "Created pod: web-%d", i)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		evs, _, err := client.For[*corev1.Event](e.Client).List(t.Context(), "default", metav1.ListOptions{})
		if err != nil {
			return err
		}
		plain, combined := 0, int32(0)
		for _, ev := range evs {
			if strings.HasPrefix(ev.Message, "(combined from similar events): ") {
				combined += ev.Count
			} else {
				plain++
			}
		}
		if plain != 10 || combined != 15 || rec.Dropped() != 15 {
			return fmt.Errorf("%d plain events, %d combined, %d dropped", plain, combined, rec.Dropped())
		}
		return nil
	})
}
