package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
)

// msgConflict is Kubernetes' text for an optimistic-concurrency conflict.
const msgConflict = "the object has been modified; please apply your changes to the latest version and try again"

// storeError turns a store error about r/name into a Kubernetes error.
func storeError(err error, r *api.Resource, name string) error {
	gr := r.GroupResource()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, store.ErrExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, store.ErrConflict):
		return apierrors.NewConflict(gr, name, errors.New(msgConflict))
	case errors.Is(err, store.ErrTooLarge):
		return apierrors.NewRequestEntityTooLargeError(err.Error())
	case errors.Is(err, store.ErrTooOld):
		return apierrors.NewResourceExpired(err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError(fmt.Sprintf("%s %q: %v", gr, name, err), 1)
	case errors.Is(err, store.ErrInvalidKey):
		return apierrors.NewBadRequest(err.Error())
	}
	return apierrors.NewInternalError(err)
}

// Status is the one place where an error becomes a Kubernetes Status body:
// a StatusError's own Status, or a 500 for anything else.
func Status(err error) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		if st.Kind == "" {
			st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		}
		if st.Status == "" {
			st.Status = metav1.StatusFailure
		}
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		return &st
	}
	st := apierrors.NewInternalError(err).ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	return &st
}
