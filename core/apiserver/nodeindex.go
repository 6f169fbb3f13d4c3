package apiserver

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
)

// The node index lets a node agent watch only the pods bound to it (the
// format is sdk/api's: NodePodKey, EncodeNodePod). Index writes follow the
// object write; an entry is never replaced by an older revision, and
// RepairNodeIndex (run periodically by Run) fixes entries that a crash
// between the two writes left behind.

// indexPod records a pod write (deleted: the pod is gone) in the node
// index. Failures are logged, not returned: the object write succeeded and
// the repair loop will converge the index.
func (s *Server) indexPod(ctx context.Context, obj runtime.Object, raw []byte, rev uint64, deleted bool) {
	if s.nodePods == nil {
		return
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	if err := s.indexOne(ctx, api.NodePodKey(pod.Spec.NodeName, pod.Namespace, pod.Name), raw, rev, deleted); err != nil {
		s.log.Warn("node index", "pod", pod.Namespace+"/"+pod.Name, "node", pod.Spec.NodeName, "err", err)
	}
}

func (s *Server) indexOne(ctx context.Context, key string, raw []byte, rev uint64, deleted bool) error {
	for attempt := 0; attempt < maxRetries; attempt++ {
		e, err := s.nodePods.Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if deleted {
				return nil
			}
			_, err = s.nodePods.Create(ctx, key, api.EncodeNodePod(rev, raw))
		case err != nil:
			return err
		case api.NodePodRevision(e.Value) > rev:
			return nil // a newer write of the pod got there first
		case deleted:
			_, err = s.nodePods.Delete(ctx, key, e.Revision, nil)
		case api.NodePodRevision(e.Value) == rev:
			return nil
		default:
			_, err = s.nodePods.Update(ctx, key, api.EncodeNodePod(rev, raw), e.Revision)
		}
		if err == nil || errors.Is(err, store.ErrNotFound) && deleted {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return fmt.Errorf("index %s: too many conflicts", key)
}

// RepairNodeIndex makes the node index match the bound pods: it adds or
// refreshes missing and stale entries and removes entries whose pod is
// gone. It returns how many entries it changed.
func (s *Server) RepairNodeIndex(ctx context.Context) (int, error) {
	if s.nodePods == nil {
		return 0, nil
	}
	pods, err := s.List(ctx, api.Pods, "", metav1.ListOptions{}, ListConfig{Decode: true})
	if err != nil {
		return 0, err
	}
	want := map[string]Item{}
	for _, it := range pods.Items {
		p := it.Object.(*corev1.Pod)
		if p.Spec.NodeName != "" {
			want[api.NodePodKey(p.Spec.NodeName, p.Namespace, p.Name)] = it
		}
	}
	have, err := s.nodePods.List(ctx, "")
	if err != nil {
		return 0, err
	}
	changed := 0
	seen := map[string]bool{}
	for _, e := range have.Entries {
		seen[e.Key] = true
		it, ok := want[e.Key]
		switch {
		case !ok && api.NodePodRevision(e.Value) <= pods.Revision:
			// No such bound pod at the list's revision, and the entry is
			// not newer than the list: stale.
			if err := s.indexOne(ctx, e.Key, nil, pods.Revision, true); err != nil {
				return changed, err
			}
			changed++
		case ok && api.NodePodRevision(e.Value) < it.Revision:
			if err := s.indexOne(ctx, e.Key, it.Raw, it.Revision, false); err != nil {
				return changed, err
			}
			changed++
		}
	}
	for key, it := range want {
		if !seen[key] {
			if err := s.indexOne(ctx, key, it.Raw, it.Revision, false); err != nil {
				return changed, err
			}
			changed++
		}
	}
	return changed, nil
}
