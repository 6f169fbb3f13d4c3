package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/sdk/api"
)

// DefaultTimeout bounds a request whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// Client talks to Skiff's API server over NATS.
type Client struct {
	conn  *bus.Conn
	store *store.Store
}

// New returns a client on conn. It binds to the objects bucket, which the
// control plane must have created.
func New(ctx context.Context, conn *bus.Conn) (*Client, error) {
	st, err := store.Bind(ctx, conn, store.Config{Bucket: subjects.ObjectsBucket})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Client{conn: conn, store: st}, nil
}

// request is one API call.
type request struct {
	op          api.Op
	r           *api.Resource
	ns, name    string
	subresource string
	options     any
	body        []byte
	patchType   string
}

// response is the API server's answer.
type response struct {
	code int
	msg  *bus.Msg
}

func (c *Client) do(ctx context.Context, q request) (*response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	h := bus.Header{}
	h.Set(api.HdrGroup, q.r.Group)
	h.Set(api.HdrResource, q.r.Resource)
	if q.ns != "" {
		h.Set(api.HdrNamespace, q.ns)
	}
	if q.name != "" {
		h.Set(api.HdrName, q.name)
	}
	if q.subresource != "" {
		h.Set(api.HdrSubresource, q.subresource)
	}
	if q.options != nil {
		b, err := json.Marshal(q.options)
		if err != nil {
			return nil, fmt.Errorf("client: options: %w", err)
		}
		if string(b) != "{}" {
			h.Set(api.HdrOptions, string(b))
		}
	}
	switch {
	case q.patchType != "":
		h.Set(api.HdrPatchType, q.patchType)
		h.Set(api.HdrContentType, q.patchType)
	case q.body != nil:
		h.Set(api.HdrContentType, api.ContentTypeProtobuf)
	}
	m, err := c.conn.Request(ctx, &bus.Msg{Subject: subjects.API(string(q.op)), Header: h, Data: q.body})
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up (or DefaultTimeout passed): keep the
			// context's error so that errors.Is(err, context.Canceled) works.
			return nil, fmt.Errorf("client: %s %s: %w", q.op, q.r.Resource, err)
		}
		return nil, apierrors.NewServiceUnavailable(err.Error())
	}
	code, err := strconv.Atoi(m.Header.Get(api.HdrCode))
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("client: reply without a status code"))
	}
	if code >= http.StatusBadRequest {
		var st metav1.Status
		if err := json.Unmarshal(m.Data, &st); err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("client: undecodable error (code %d): %w", code, err))
		}
		return nil, &apierrors.StatusError{ErrStatus: st}
	}
	return &response{code: code, msg: m}, nil
}

// decodeObject decodes a reply's object into into and sets its
// resourceVersion from the reply.
func decodeObject(m *bus.Msg, into runtime.Object) error {
	if _, err := api.Decode(m.Data, into); err != nil {
		return fmt.Errorf("client: decode %T: %w", into, err)
	}
	if rev := m.Header.Get(api.HdrRevision); rev != "" && rev != "0" {
		mustAccessor(into).SetResourceVersion(rev)
	}
	return nil
}
