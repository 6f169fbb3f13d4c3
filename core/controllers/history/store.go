package history

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/sdk/client"
)

// Store is the thin shell around Decide that controllers share: it reads
// the owner's revisions from the shared cache and writes what Decide
// says. Safe for concurrent use.
type Store struct {
	revs *cache.Informer[*appsv1.ControllerRevision]
	api  *client.Typed[*appsv1.ControllerRevision]
}

// NewStore registers the revision informer (with the ByController index)
// on set, before it runs.
func NewStore(set *cache.Set) *Store {
	s := &Store{revs: cache.Of[*appsv1.ControllerRevision](set), api: client.For[*appsv1.ControllerRevision](set.Client())}
	cache.AddControllerIndex(s.revs)
	return s
}

// Informer is the revision informer, for handlers.
func (s *Store) Informer() *cache.Informer[*appsv1.ControllerRevision] { return s.revs }

// Owned lists the revisions the owner with uid controls.
func (s *Store) Owned(uid string) []*appsv1.ControllerRevision {
	return s.revs.ByIndex(cache.ByController, uid)
}

// Sync runs Decide on the owner's cached revisions (in.Revisions is
// filled here) and writes the plan: it returns the revision of the
// current template as stored, and the collision count to record.
func (s *Store) Sync(ctx context.Context, in Input) (*appsv1.ControllerRevision, *int32, error) {
	in.Revisions = s.Owned(string(in.Owner.GetUID()))
	plan, err := Decide(in)
	if err != nil {
		return nil, in.CollisionCount, err
	}
	cur := plan.Update
	switch {
	case plan.Create:
		out, err := s.api.Create(ctx, cur, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Not in the cache yet, or a collision: the next sync sees it.
			got, gerr := s.api.Get(ctx, cur.Namespace, cur.Name)
			if gerr == nil && string(got.Data.Raw) == string(cur.Data.Raw) {
				out, err = got, nil
			}
		}
		if err != nil {
			return nil, in.CollisionCount, fmt.Errorf("create revision %s: %w", cur.Name, err)
		}
		cur = out
		s.revs.WaitForWrite(ctx, out)
	case plan.Renumber:
		out, err := s.api.Update(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			return nil, in.CollisionCount, fmt.Errorf("update revision %s: %w", cur.Name, err)
		}
		cur = out
		s.revs.WaitForWrite(ctx, out)
	}
	var errs []error
	for _, r := range plan.Delete {
		_, _, err := s.api.Delete(ctx, r.Namespace, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &r.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete revision %s: %w", r.Name, err))
		}
	}
	return cur, plan.CollisionCount, errors.Join(errs...)
}
