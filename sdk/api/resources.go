package api

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// Resource describes one served resource.
type Resource struct {
	Group      string
	Version    string
	Resource   string // plural, lower case: "pods"
	Kind       string
	Namespaced bool
	// Status is true when the resource has a status subresource that is
	// written apart from the rest of the object.
	Status     bool
	ShortNames []string
	Singular   string
	Categories []string
	// New returns an empty object and NewList an empty list of the kind.
	New     func() runtime.Object
	NewList func() runtime.Object
}

// GVR is the resource's group/version/resource.
func (r *Resource) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// GVK is the resource's group/version/kind.
func (r *Resource) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// GroupResource is the resource's group and plural, as Kubernetes errors
// name it.
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.Group, Resource: r.Resource}
}

// APIVersion is "v1" for the core group and "group/version" otherwise.
func (r *Resource) APIVersion() string { return r.GVK().GroupVersion().String() }

func res(group, version, plural, singular, kind string, namespaced, status bool, short []string, newObj, newList func() runtime.Object) *Resource {
	return &Resource{Group: group, Version: version, Resource: plural, Singular: singular, Kind: kind,
		Namespaced: namespaced, Status: status, ShortNames: short, New: newObj, NewList: newList}
}

var resources = []*Resource{
	res("", "v1", "namespaces", "namespace", "Namespace", false, true, []string{"ns"},
		func() runtime.Object { return &corev1.Namespace{} }, func() runtime.Object { return &corev1.NamespaceList{} }),
	res("", "v1", "nodes", "node", "Node", false, true, []string{"no"},
		func() runtime.Object { return &corev1.Node{} }, func() runtime.Object { return &corev1.NodeList{} }),
	res("", "v1", "pods", "pod", "Pod", true, true, []string{"po"},
		func() runtime.Object { return &corev1.Pod{} }, func() runtime.Object { return &corev1.PodList{} }),
	res("", "v1", "configmaps", "configmap", "ConfigMap", true, false, []string{"cm"},
		func() runtime.Object { return &corev1.ConfigMap{} }, func() runtime.Object { return &corev1.ConfigMapList{} }),
	res("", "v1", "secrets", "secret", "Secret", true, false, nil,
		func() runtime.Object { return &corev1.Secret{} }, func() runtime.Object { return &corev1.SecretList{} }),
	res("", "v1", "services", "service", "Service", true, true, []string{"svc"},
		func() runtime.Object { return &corev1.Service{} }, func() runtime.Object { return &corev1.ServiceList{} }),
	res("", "v1", "endpoints", "endpoints", "Endpoints", true, false, []string{"ep"},
		//nolint:staticcheck // Endpoints is deprecated upstream in favour of EndpointSlice, but kubectl and Services still use it.
		func() runtime.Object { return &corev1.Endpoints{} }, func() runtime.Object { return &corev1.EndpointsList{} }),
	res("", "v1", "events", "event", "Event", true, false, []string{"ev"},
		func() runtime.Object { return &corev1.Event{} }, func() runtime.Object { return &corev1.EventList{} }),
	res("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, false, []string{"sa"},
		func() runtime.Object { return &corev1.ServiceAccount{} }, func() runtime.Object { return &corev1.ServiceAccountList{} }),
	res("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, false, nil,
		func() runtime.Object { return &coordinationv1.Lease{} }, func() runtime.Object { return &coordinationv1.LeaseList{} }),
	res("apps", "v1", "deployments", "deployment", "Deployment", true, true, []string{"deploy"},
		func() runtime.Object { return &appsv1.Deployment{} }, func() runtime.Object { return &appsv1.DeploymentList{} }),
	res("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, true, []string{"rs"},
		func() runtime.Object { return &appsv1.ReplicaSet{} }, func() runtime.Object { return &appsv1.ReplicaSetList{} }),
	res("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, true, []string{"ds"},
		func() runtime.Object { return &appsv1.DaemonSet{} }, func() runtime.Object { return &appsv1.DaemonSetList{} }),
	res("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, true, []string{"sts"},
		func() runtime.Object { return &appsv1.StatefulSet{} }, func() runtime.Object { return &appsv1.StatefulSetList{} }),
	res("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", true, false, nil,
		func() runtime.Object { return &appsv1.ControllerRevision{} }, func() runtime.Object { return &appsv1.ControllerRevisionList{} }),
	res("batch", "v1", "jobs", "job", "Job", true, true, nil,
		func() runtime.Object { return &batchv1.Job{} }, func() runtime.Object { return &batchv1.JobList{} }),
	res("batch", "v1", "cronjobs", "cronjob", "CronJob", true, true, []string{"cj"},
		func() runtime.Object { return &batchv1.CronJob{} }, func() runtime.Object { return &batchv1.CronJobList{} }),
	res(skiffv1alpha1.GroupName, "v1alpha1", "plugins", "plugin", "Plugin", false, true, nil,
		func() runtime.Object { return &skiffv1alpha1.Plugin{} }, func() runtime.Object { return &skiffv1alpha1.PluginList{} }),
	res(skiffv1alpha1.GroupName, "v1alpha1", "schedulerprofiles", "schedulerprofile", "SchedulerProfile", false, true, []string{"sp"},
		func() runtime.Object { return &skiffv1alpha1.SchedulerProfile{} }, func() runtime.Object { return &skiffv1alpha1.SchedulerProfileList{} }),
}

// The indexes are built by a variable initialiser, not init(), so that the
// shortcut variables below (initialised from Lookup) see them filled.
var byGR, byKind = index(resources)

func index(rs []*Resource) (map[schema.GroupResource]*Resource, map[schema.GroupVersionKind]*Resource) {
	gr := map[schema.GroupResource]*Resource{}
	kinds := map[schema.GroupVersionKind]*Resource{}
	for _, r := range rs {
		gr[r.GroupResource()] = r
		kinds[r.GVK()] = r
		switch r.Resource {
		case "pods", "deployments", "replicasets", "daemonsets", "statefulsets", "services", "jobs", "cronjobs":
			r.Categories = []string{"all"}
		}
	}
	return gr, kinds
}

// Resources lists every served resource. The slice must not be modified.
func Resources() []*Resource { return resources }

// Lookup finds a resource by group and plural; ok is false if not served.
func Lookup(group, resource string) (r *Resource, ok bool) {
	r, ok = byGR[schema.GroupResource{Group: group, Resource: resource}]
	return r, ok
}

// LookupKind finds a resource by group, version and kind.
func LookupKind(gvk schema.GroupVersionKind) (r *Resource, ok bool) {
	r, ok = byKind[gvk]
	return r, ok
}

// Namespaces, Pods, Nodes... are shortcuts for the most used resources.
var (
	Namespaces, _        = Lookup("", "namespaces")
	Nodes, _             = Lookup("", "nodes")
	Pods, _              = Lookup("", "pods")
	ConfigMaps, _        = Lookup("", "configmaps")
	Secrets, _           = Lookup("", "secrets")
	Services, _          = Lookup("", "services")
	EndpointsRes, _      = Lookup("", "endpoints")
	Events, _            = Lookup("", "events")
	ServiceAccounts, _   = Lookup("", "serviceaccounts")
	Leases, _            = Lookup("coordination.k8s.io", "leases")
	Deployments, _       = Lookup("apps", "deployments")
	ReplicaSets, _       = Lookup("apps", "replicasets")
	DaemonSets, _        = Lookup("apps", "daemonsets")
	StatefulSets, _      = Lookup("apps", "statefulsets")
	Jobs, _              = Lookup("batch", "jobs")
	ControllerRevs, _    = Lookup("apps", "controllerrevisions")
	CronJobs, _          = Lookup("batch", "cronjobs")
	Plugins, _           = Lookup(skiffv1alpha1.GroupName, "plugins")
	SchedulerProfiles, _ = Lookup(skiffv1alpha1.GroupName, "schedulerprofiles")
)
