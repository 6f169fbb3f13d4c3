package kubeapi

import (
	"net"
	"net/http"
	"sort"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/sdk/api"
)

// verbs of every served resource.
var resourceVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// subresource is one subresource of a served resource.
type subresource struct {
	name  string
	gvk   schema.GroupVersionKind
	verbs metav1.Verbs
}

// subresources lists r's subresources.
func subresources(r *api.Resource) []subresource {
	var out []subresource
	if r == api.Pods {
		out = append(out,
			subresource{"binding", schema.GroupVersionKind{Version: "v1", Kind: "Binding"}, metav1.Verbs{"create"}},
			subresource{"log", r.GVK(), metav1.Verbs{"get"}})
	}
	if scalable(r) {
		out = append(out, subresource{"scale", scaleGVK, metav1.Verbs{"get", "patch", "update"}})
	}
	if r.Status {
		out = append(out, subresource{"status", r.GVK(), metav1.Verbs{"get", "patch", "update"}})
	}
	return out
}

func resourcesIn(gv schema.GroupVersion) []*api.Resource {
	var out []*api.Resource
	for _, r := range api.Resources() {
		if r.Group == gv.Group && r.Version == gv.Version {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// apiResourceList is the legacy discovery document of gv.
func apiResourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	l := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, r := range resourcesIn(gv) {
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r.Resource, SingularName: r.Singular, Namespaced: r.Namespaced, Kind: r.Kind,
			Verbs: resourceVerbs, ShortNames: r.ShortNames, Categories: r.Categories,
		})
		for _, sub := range subresources(r) {
			ar := metav1.APIResource{Name: r.Resource + "/" + sub.name, Namespaced: r.Namespaced, Kind: sub.gvk.Kind, Verbs: sub.verbs}
			if sub.gvk.GroupVersion() != gv {
				ar.Group, ar.Version = sub.gvk.Group, sub.gvk.Version
			}
			l.APIResources = append(l.APIResources, ar)
		}
	}
	return l
}

// aggregated is the aggregated discovery document of the given group
// versions (apidiscovery.k8s.io/v2).
func aggregated(gvs []schema.GroupVersion) *apidiscoveryv2.APIGroupDiscoveryList {
	l := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	index := map[string]int{}
	for _, gv := range gvs {
		i, ok := index[gv.Group]
		if !ok {
			i = len(l.Items)
			index[gv.Group] = i
			l.Items = append(l.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}})
		}
		vd := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, r := range resourcesIn(gv) {
			scope := apidiscoveryv2.ScopeCluster
			if r.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			rd := apidiscoveryv2.APIResourceDiscovery{
				Resource: r.Resource, SingularResource: r.Singular, Scope: scope, Verbs: resourceVerbs,
				ShortNames: r.ShortNames, Categories: r.Categories,
				ResponseKind: &metav1.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind},
			}
			for _, sub := range subresources(r) {
				rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource:  sub.name,
					ResponseKind: &metav1.GroupVersionKind{Group: sub.gvk.Group, Version: sub.gvk.Version, Kind: sub.gvk.Kind},
					Verbs:        sub.verbs,
				})
			}
			vd.Resources = append(vd.Resources, rd)
		}
		l.Items[i].Versions = append(l.Items[i].Versions, vd)
	}
	return l
}

// contentTypeAggregated is the Content-Type of aggregated discovery, which
// clients look for to tell it from the legacy documents.
const contentTypeAggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

func (s *Server) writeDiscovery(w http.ResponseWriter, req *http.Request, legacy any, gvs []schema.GroupVersion) error {
	t, err := negotiate(req, accepts{discovery: true, noProtobuf: true})
	if err != nil {
		return err
	}
	if t.form == formDiscoveryAgg {
		body, err := encodeAs(t.mime, aggregated(gvs), false)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", contentTypeAggregated)
		w.Header().Set("Vary", "Accept")
		_, _ = w.Write(body)
		return nil
	}
	w.Header().Set("Vary", "Accept")
	s.writeObject(w, req, http.StatusOK, t, legacy)
	return nil
}

// serveLegacyVersions serves /api.
func (s *Server) serveLegacyVersions(w http.ResponseWriter, req *http.Request) error {
	addr := req.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = s.cfg.Listen
	}
	v := &metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: addr}},
	}
	var core []schema.GroupVersion
	for _, gv := range groupVersions() {
		if gv.Group == "" {
			core = append(core, gv)
		}
	}
	return s.writeDiscovery(w, req, v, core)
}

func apiGroup(name string) metav1.APIGroup {
	g := metav1.APIGroup{Name: name}
	for _, gv := range groupVersions() {
		if gv.Group == name {
			g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version})
		}
	}
	if len(g.Versions) > 0 {
		g.PreferredVersion = g.Versions[0]
	}
	return g
}

// serveGroups serves /apis.
func (s *Server) serveGroups(w http.ResponseWriter, req *http.Request) error {
	l := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	var gvs []schema.GroupVersion
	seen := map[string]bool{}
	for _, gv := range groupVersions() {
		if gv.Group == "" {
			continue
		}
		gvs = append(gvs, gv)
		if !seen[gv.Group] {
			seen[gv.Group] = true
			l.Groups = append(l.Groups, apiGroup(gv.Group))
		}
	}
	return s.writeDiscovery(w, req, l, gvs)
}

// serveGroup serves /apis/<group>.
func (s *Server) serveGroup(w http.ResponseWriter, req *http.Request, name string) error {
	g := apiGroup(name)
	if name == "" || len(g.Versions) == 0 {
		return errNotFound()
	}
	g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
	t, err := negotiate(req, accepts{noProtobuf: true})
	if err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusOK, t, &g)
	return nil
}

// serveResourceList serves /api/v1 and /apis/<group>/<version>.
func (s *Server) serveResourceList(w http.ResponseWriter, req *http.Request, gv schema.GroupVersion) error {
	t, err := negotiate(req, accepts{noProtobuf: true})
	if err != nil {
		return err
	}
	s.writeObject(w, req, http.StatusOK, t, apiResourceList(gv))
	return nil
}

// serveRootPaths serves "/": the list of paths, as Kubernetes does.
func (s *Server) serveRootPaths(w http.ResponseWriter, req *http.Request) error {
	paths := []string{"/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"}
	for _, gv := range groupVersions() {
		if gv.Group != "" {
			paths = append(paths, "/apis/"+gv.Group, "/apis/"+gv.String())
		}
	}
	sort.Strings(paths)
	s.writeObject(w, req, http.StatusOK, target{mime: "application/json"}, &metav1.RootPaths{Paths: paths})
	return nil
}
