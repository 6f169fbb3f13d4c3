package podcontrol

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/expect"
)

// PodAPI is the pod writes a Control makes (a *client.Typed[*corev1.Pod]
// satisfies it).
type PodAPI interface {
	Create(ctx context.Context, p *corev1.Pod, opts metav1.CreateOptions) (*corev1.Pod, error)
	Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (last *corev1.Pod, gone bool, err error)
}

// Control writes one controller's pods. Pods and Exp are required; a nil
// Events records nothing.
type Control struct {
	Pods   PodAPI
	Exp    *expect.Expectations
	Events *events.Recorder
}

// Create creates n pods for the owner whose expectations key is key,
// newPod(i) being the i-th (0 ≤ i < n), in slow-start batches that stop
// after the first batch with a failure. It returns the first failure,
// wrapped; the pods not created are no longer expected.
func (c Control) Create(ctx context.Context, key string, owner runtime.Object, n int, newPod func(i int) *corev1.Pod) error {
	if n <= 0 {
		return nil
	}
	c.Exp.ExpectCreations(key, n)
	done, err := slowStart(n, func(i int) error {
		out, err := c.Pods.Create(ctx, newPod(i), metav1.CreateOptions{})
		if err != nil {
			c.Events.Warning(owner, "FailedCreate", "Error creating: %v", err)
			return fmt.Errorf("create pod: %w", err)
		}
		c.Events.Normal(owner, "SuccessfulCreate", "Created pod: %s", out.Name)
		return nil
	})
	// Creations that failed or were not tried will not be observed.
	for range n - done {
		c.Exp.CreationObserved(key)
	}
	return err
}

// Delete deletes ps, the owner's pods whose expectations key is key, all
// at once, each only if it still has its UID. A pod already gone counts
// as deleted; the other failures are joined into the error, and their
// deletions are no longer expected.
func (c Control) Delete(ctx context.Context, key string, owner runtime.Object, ps []*corev1.Pod) error {
	if len(ps) == 0 {
		return nil
	}
	uids := make([]types.UID, len(ps))
	for i, p := range ps {
		uids[i] = p.UID
	}
	c.Exp.ExpectDeletions(key, uids)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range ps {
		wg.Go(func() {
			_, _, err := c.Pods.Delete(ctx, p.Namespace, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
			switch {
			case err == nil:
				c.Events.Normal(owner, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			case apierrors.IsNotFound(err):
				c.Exp.DeletionObserved(key, p.UID)
			default:
				c.Exp.DeletionObserved(key, p.UID)
				c.Events.Warning(owner, "FailedDelete", "Error deleting: %v", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// slowStart calls fn(0) … fn(count-1), in batches of 1, 2, 4, ... run at
// once, and stops after the first batch with a failure. It returns how
// many calls succeeded and the first failure of that batch (by index).
func slowStart(count int, fn func(i int) error) (int, error) {
	done := 0
	for start, batch := 0, 1; start < count; start, batch = start+batch, batch*2 {
		n := min(batch, count-start)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for j := range n {
			wg.Go(func() { errs[j] = fn(start + j) })
		}
		wg.Wait()
		var first error
		for _, err := range errs {
			if err == nil {
				done++
			} else if first == nil {
				first = err
			}
		}
		if first != nil {
			return done, first
		}
	}
	return done, nil
}
