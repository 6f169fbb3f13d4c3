package kubeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/sdk/api"
)

// minWatchTimeout is the shortest a watch without timeoutSeconds lasts
// before the server ends it (it lasts up to twice as long), as Kubernetes'
// --min-request-timeout.
const minWatchTimeout = 30 * time.Minute

// serveWatchOne serves GET .../{name}?watch=1: a watch of one object.
func (s *Server) serveWatchOne(w http.ResponseWriter, req *http.Request, rq request) error {
	if rq.subresource != "" {
		return errNotFound()
	}
	q := req.URL.Query()
	sel := fields.OneTermEqualSelector("metadata.name", rq.name)
	if fs := q.Get("fieldSelector"); fs != "" {
		parsed, err := fields.ParseSelector(fs)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		sel = fields.AndSelectors(sel, parsed)
	}
	q.Set("fieldSelector", sel.String())
	req.URL.RawQuery = q.Encode()
	rq.name = ""
	return s.serveWatch(w, req, rq)
}

// serveWatch streams watch events, one JSON document (or length-prefixed
// protobuf frame) per event, flushed as it is written.
func (s *Server) serveWatch(w http.ResponseWriter, req *http.Request, rq request) error {
	t, err := negotiate(req, accepts{table: true, partial: true, noProtobuf: !api.HasProtobuf(rq.r.New())})
	if err != nil {
		return err
	}
	var opts metav1.ListOptions
	if err := decodeParams(req.URL.Query(), &opts); err != nil {
		return err
	}
	opts.Watch = true
	timeout := minWatchTimeout + time.Duration(rand.Int64N(int64(minWatchTimeout)))
	if opts.TimeoutSeconds != nil && *opts.TimeoutSeconds > 0 {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	} else if v := req.URL.Query().Get("timeout"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			timeout = d
		}
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()

	var initial []apiserver.WatchEvent
	if opts.SendInitialEvents != nil && *opts.SendInitialEvents {
		if initial, opts, err = s.initialEvents(ctx, rq, opts); err != nil {
			return err
		}
	}
	events, err := s.api.Watch(ctx, rq.r, rq.namespace, opts)
	if err != nil {
		return err
	}
	enc, ct := s.watchEncoder(req, rq, t)
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	write := func(ev apiserver.WatchEvent) bool {
		frame, err := enc(ev)
		if err != nil {
			s.log.Warn("encode watch event", "err", err)
			return false
		}
		if _, err := w.Write(frame); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for _, ev := range initial {
		if !write(ev) {
			return nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok || !write(ev) {
				return nil
			}
		}
	}
}

// initialEvents serves sendInitialEvents=true (the watch-list of
// client-go's informers): an ADDED event per current object, then a
// bookmark marking their end, then the watch from that snapshot.
func (s *Server) initialEvents(ctx context.Context, rq request, opts metav1.ListOptions) ([]apiserver.WatchEvent, metav1.ListOptions, error) {
	if opts.ResourceVersionMatch != metav1.ResourceVersionMatchNotOlderThan {
		return nil, opts, apierrors.NewBadRequest("sendInitialEvents is allowed only with resourceVersionMatch set to NotOlderThan")
	}
	if !opts.AllowWatchBookmarks {
		return nil, opts, apierrors.NewBadRequest("sendInitialEvents requires allowWatchBookmarks=true")
	}
	lopts := metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector, ResourceVersion: opts.ResourceVersion}
	res, err := s.api.List(ctx, rq.r, rq.namespace, lopts, apiserver.ListConfig{Decode: true})
	if err != nil {
		return nil, opts, err
	}
	out := make([]apiserver.WatchEvent, 0, len(res.Items)+1)
	for _, it := range res.Items {
		out = append(out, apiserver.WatchEvent{Type: watch.Added, Object: it.Object})
	}
	bm := rq.r.New()
	m, _ := meta.Accessor(bm)
	m.SetResourceVersion(api.FormatRevision(res.Revision))
	m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	out = append(out, apiserver.WatchEvent{Type: watch.Bookmark, Object: bm})
	opts.SendInitialEvents = nil
	opts.ResourceVersionMatch = ""
	opts.ResourceVersion = api.FormatRevision(res.Revision)
	return out, opts, nil
}

// watchEncoder returns the function that frames one event, and the
// response's content type.
func (s *Server) watchEncoder(req *http.Request, rq request, t target) (func(apiserver.WatchEvent) ([]byte, error), string) {
	object := func(ev apiserver.WatchEvent) (any, error) {
		if ev.Type == watch.Error {
			return ev.Object, nil
		}
		if t.form == formTable && ev.Type == watch.Bookmark {
			m, _ := meta.Accessor(ev.Object)
			return &metav1.Table{TypeMeta: metav1.TypeMeta{APIVersion: metav1.GroupName + "/" + t.version, Kind: formTable},
				ListMeta: metav1.ListMeta{ResourceVersion: m.GetResourceVersion()}}, nil
		}
		if t.form == formPartialList {
			t.form = formPartial
		}
		return s.present(req, rq.r, t, []runtime.Object{ev.Object}, false, metav1.ListMeta{})
	}
	if t.mime == api.ContentTypeProtobuf && t.form == formObject {
		return func(ev apiserver.WatchEvent) ([]byte, error) {
			if ev.Type != watch.Error {
				if err := api.SetKind(ev.Object); err != nil {
					return nil, err
				}
			}
			raw, err := api.Encode(ev.Object)
			if err != nil {
				return nil, err
			}
			// The frame is the bare WatchEvent message (no envelope); the
			// object inside carries its own.
			we := &metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: raw}}
			frame, err := we.Marshal()
			if err != nil {
				return nil, err
			}
			return lengthPrefixed(frame), nil
		}, api.ContentTypeProtobuf + ";stream=watch"
	}
	return func(ev apiserver.WatchEvent) ([]byte, error) {
		obj, err := object(ev)
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(&metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: raw}})
		return append(b, '\n'), err
	}, api.ContentTypeJSON
}

// lengthPrefixed frames a protobuf message as Kubernetes' watch stream
// does: a 4-byte big-endian length, then the message.
func lengthPrefixed(b []byte) []byte {
	var buf lengthBuffer
	_, _ = protobuf.LengthDelimitedFramer.NewFrameWriter(&buf).Write(b)
	return buf.b
}

type lengthBuffer struct{ b []byte }

func (l *lengthBuffer) Write(p []byte) (int, error) { l.b = append(l.b, p...); return len(p), nil }
