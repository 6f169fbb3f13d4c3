package kubeapi

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/sdk/api"
)

// request is a parsed resource request path.
type request struct {
	r           *api.Resource
	namespace   string
	name        string
	subresource string
	// watchPath is true for the legacy /watch/ paths.
	watchPath bool
}

// errNotFound is Kubernetes' answer to a path it does not serve.
func errNotFound() error {
	err := apierrors.NewNotFound(schema.GroupResource{}, "")
	err.ErrStatus.Message = "the server could not find the requested resource"
	err.ErrStatus.Details = nil
	return err
}

// route dispatches an authenticated request.
func (s *Server) route(w http.ResponseWriter, req *http.Request) error {
	p := strings.TrimSuffix(req.URL.Path, "/")
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case p == "" || p == "/":
		return s.serveRootPaths(w, req)
	case segs[0] == "openapi":
		return s.serveOpenAPI(w, req, segs[1:])
	case segs[0] == "api":
		if len(segs) == 1 {
			return s.serveLegacyVersions(w, req)
		}
		gv := schema.GroupVersion{Version: segs[1]}
		if !servesGroupVersion(gv) {
			return errNotFound()
		}
		if len(segs) == 2 {
			return s.serveResourceList(w, req, gv)
		}
		return s.serveResourcePath(w, req, gv, segs[2:])
	case segs[0] == "apis":
		switch len(segs) {
		case 1:
			return s.serveGroups(w, req)
		case 2:
			return s.serveGroup(w, req, segs[1])
		}
		gv := schema.GroupVersion{Group: segs[1], Version: segs[2]}
		if gv.Group == "" || !servesGroupVersion(gv) {
			return errNotFound()
		}
		if len(segs) == 3 {
			return s.serveResourceList(w, req, gv)
		}
		return s.serveResourcePath(w, req, gv, segs[3:])
	}
	return errNotFound()
}

// parseResourcePath parses what follows /api/v1 or /apis/<group>/<version>,
// as Kubernetes' request-info factory does.
func parseResourcePath(gv schema.GroupVersion, segs []string) (request, error) {
	var rq request
	if len(segs) > 0 && segs[0] == "watch" {
		rq.watchPath = true
		segs = segs[1:]
	}
	for _, s := range segs {
		if s == "" {
			return rq, errNotFound()
		}
	}
	var resource string
	switch {
	case len(segs) == 0:
		return rq, errNotFound()
	case segs[0] == "namespaces" && len(segs) >= 2:
		rq.namespace = segs[1]
		if len(segs) == 2 || len(segs) == 3 && (segs[2] == "status" || segs[2] == "finalize") {
			// The namespace itself: /namespaces/{name}[/status].
			resource, rq.name = "namespaces", segs[1]
			rq.namespace = ""
			if len(segs) == 3 {
				rq.subresource = segs[2]
			}
			break
		}
		rest := segs[2:]
		resource = rest[0]
		if len(rest) > 1 {
			rq.name = rest[1]
		}
		if len(rest) > 2 {
			rq.subresource = rest[2]
		}
		if len(rest) > 3 {
			return rq, errNotFound()
		}
	default:
		resource = segs[0]
		if len(segs) > 1 {
			rq.name = segs[1]
		}
		if len(segs) > 2 {
			rq.subresource = segs[2]
		}
		if len(segs) > 3 {
			return rq, errNotFound()
		}
	}
	r, ok := api.Lookup(gv.Group, resource)
	if !ok || r.Version != gv.Version {
		return rq, errNotFound()
	}
	if rq.namespace != "" && !r.Namespaced {
		return rq, errNotFound()
	}
	rq.r = r
	return rq, nil
}

// servesGroupVersion reports whether some resource is served in gv.
func servesGroupVersion(gv schema.GroupVersion) bool {
	for _, r := range api.Resources() {
		if r.Group == gv.Group && r.Version == gv.Version {
			return true
		}
	}
	return false
}

// groupVersions lists the served group versions, core first, in the order
// of the resource table.
func groupVersions() []schema.GroupVersion {
	var out []schema.GroupVersion
	seen := map[schema.GroupVersion]bool{}
	for _, r := range api.Resources() {
		gv := schema.GroupVersion{Group: r.Group, Version: r.Version}
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	return out
}
