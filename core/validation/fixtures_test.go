package validation

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// summary renders errors as "Type field" lines in a stable order, the form
// the tables compare with cmp.Diff.
func summary(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, string(e.Type)+" "+e.Field)
	}
	slices.Sort(out)
	return out
}

// lines is a readable way to write an expected summary.
func lines(s ...string) []string {
	slices.Sort(s)
	return s
}

// Shorthands for the error types in expected summaries.
const (
	required     = string(field.ErrorTypeRequired)
	invalid      = string(field.ErrorTypeInvalid)
	forbidden    = string(field.ErrorTypeForbidden)
	notSupported = string(field.ErrorTypeNotSupported)
	duplicate    = string(field.ErrorTypeDuplicate)
	notFound     = string(field.ErrorTypeNotFound)
	tooLong      = string(field.ErrorTypeTooLong)
	internal     = string(field.ErrorTypeInternal)
)

func e(typ, path string) string { return typ + " " + path }

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", UID: "0b7d1c2e-0000-4000-8000-000000000001"}
}

func clusterMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, UID: "0b7d1c2e-0000-4000-8000-000000000002"}
}

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:  "app",
			Image: "registry.example/app:1.2.3",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}},
	}
}

// richPodSpec uses most of what a pod spec offers, validly.
func richPodSpec() corev1.PodSpec {
	grace := int64(45)
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: &grace,
		Volumes: []corev1.Volume{
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"},
				Items:                []corev1.KeyToPath{{Key: "app.yaml", Path: "app.yaml"}},
			}}},
			{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "app-creds"}}},
			{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
				Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}},
			}}},
			{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}},
			}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
		},
		InitContainers: []corev1.Container{
			{Name: "migrate", Image: "registry.example/migrate:7", Command: []string{"/migrate"}},
			{
				Name: "proxy", Image: "envoyproxy/envoy:v1.31", RestartPolicy: ptrTo(corev1.ContainerRestartPolicyAlways),
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(15000)}}},
			},
		},
		Containers: []corev1.Container{
			{
				Name:  "app",
				Image: "registry.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
				Env: []corev1.EnvVar{
					{Name: "MODE", Value: "prod"},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "APP_TIER", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tier']"}}},
					{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1m")}}},
					{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
					{Name: "FEATURE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "flags"}, Key: "feature.x"}}},
					{Name: "my.relaxed-name", Value: "ok"},
				},
				EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi"), "example.com/gpu": resource.MustParse("1")},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "scratch", MountPath: "/tmp"},
					{Name: "config", MountPath: "/etc/app", ReadOnly: true},
					{Name: "creds", MountPath: "/var/run/creds", SubPath: "prod"},
					{Name: "info", MountPath: "/etc/podinfo"},
					{Name: "token", MountPath: "/var/run/token"},
					{Name: "host", MountPath: "/host/log", ReadOnly: true},
					{Name: "data", MountPath: "/data"},
				},
				LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}, InitialDelaySeconds: 5},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/ready"}}}},
				StartupProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}, FailureThreshold: 30},
				Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}},
				SecurityContext: &corev1.SecurityContext{
					RunAsUser: ptrTo(int64(1000)), AllowPrivilegeEscalation: ptrTo(false),
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			},
			{Name: "sidecar", Image: "busybox", Command: []string{"sleep", "infinity"}},
		},
		NodeSelector:      map[string]string{"kubernetes.io/os": "linux"},
		Hostname:          "web-0",
		Subdomain:         "web",
		ImagePullSecrets:  []corev1.LocalObjectReference{{Name: "registry"}},
		PriorityClassName: "high",
		Tolerations: []corev1.Toleration{
			{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptrTo(int64(300))},
			{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web", Effect: corev1.TaintEffectNoSchedule},
			{Operator: corev1.TolerationOpExists},
		},
		Affinity: &corev1.Affinity{
			NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}}},
			}},
			PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight:          50,
				PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			}}},
		},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}},
		DNSConfig:                 &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.10"}, Searches: []string{"svc.cluster.local"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptrTo("2")}}},
		HostAliases:               []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db.local"}}},
		ActiveDeadlineSeconds:     ptrTo(int64(3600)),
		SecurityContext:           &corev1.PodSecurityContext{FSGroup: ptrTo(int64(2000)), RunAsNonRoot: ptrTo(true)},
	}
}

func validPod() *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: meta("web"), Spec: podSpec()}
	Default(p)
	return p
}

func template(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec()}
}

func appLabels() map[string]string { return map[string]string{"app": "web"} }

func validDeployment() *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels()},
		Template: template(appLabels()),
	}}
	Default(d)
	return d
}

func validReplicaSet() *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: meta("web-5d8f"), Spec: appsv1.ReplicaSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: appLabels()},
		Template: template(appLabels()),
	}}
	Default(rs)
	return rs
}

func validDaemonSet() *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}}},
		Template: template(appLabels()),
	}}
	Default(ds)
	return ds
}

func validStatefulSet() *appsv1.StatefulSet {
	ss := &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
		ServiceName: "db",
		Selector:    &metav1.LabelSelector{MatchLabels: appLabels()},
		Template:    template(appLabels()),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}},
	}}
	ss.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/db"}}
	Default(ss)
	return ss
}

func validJob() *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: meta("migrate"), Spec: batchv1.JobSpec{Template: template(nil)}}
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	Default(j)
	return j
}

func validCronJob() *batchv1.CronJob {
	cj := &batchv1.CronJob{ObjectMeta: meta("nightly"), Spec: batchv1.CronJobSpec{
		Schedule: "0 3 * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: template(nil),
		}},
	}}
	cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	Default(cj)
	return cj
}

func validService() *corev1.Service {
	s := &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
		Selector: appLabels(),
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}, {Name: "https", Port: 443}},
	}}
	Default(s)
	return s
}

func validConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: meta("app-config"), Data: map[string]string{"app.yaml": "a: 1", "LOG_LEVEL": "debug"}, BinaryData: map[string][]byte{"logo.png": {0x89, 0x50}}}
}

func validSecret() *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: meta("db"), Data: map[string][]byte{"password": []byte("hunter2")}}
	Default(s)
	return s
}

func validNamespace() *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: clusterMeta("team-a")}
	Default(ns)
	return ns
}

func validNode() *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: clusterMeta("node-1.example.com"),
		Spec: corev1.NodeSpec{
			PodCIDRs: []string{"10.244.1.0/24", "fd00:10:244:1::/64"}, PodCIDR: "10.244.1.0/24",
			Taints: []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}},
		},
		Status: corev1.NodeStatus{
			Capacity:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourcePods: resource.MustParse("110")},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
		},
	}
	Default(n)
	return n
}

func validEndpoints() *endpoints {
	ep := &endpoints{ObjectMeta: meta("web"), Subsets: []endpointSubset{{
		Addresses:         []endpointAddress{{IP: "10.244.1.5", NodeName: ptrTo("node-1")}},
		NotReadyAddresses: []endpointAddress{{IP: "10.244.2.7", Hostname: "web-1"}},
		Ports:             []endpointPort{{Name: "http", Port: 8080}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}},
	}}}
	Default(ep)
	return ep
}

func validEvent() *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     meta("web.17d2a3b4c5d6e7f8"),
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		Reason:         "Scheduled", Message: "Successfully assigned default/web to node-1", Type: corev1.EventTypeNormal,
		Count: 1,
	}
}

func validServiceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: meta("default")}
}

func validLease() *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: meta("scheduler"), Spec: coordinationv1.LeaseSpec{
		HolderIdentity: ptrTo("skiff-1"), LeaseDurationSeconds: ptrTo(int32(15)), LeaseTransitions: ptrTo(int32(3)),
	}}
}

// checkErrors compares the summary of got with want.
func checkErrors(t *testing.T, want []string, got field.ErrorList) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s\nall errors:\n%v", diff, got)
	}
}

// endpoints and its parts are core/v1 Endpoints: deprecated upstream in favour of
// EndpointSlice, but still served by Skiff; the alias keeps the deprecation
// notice to this one line.
type (
	endpoints       = corev1.Endpoints       //nolint:staticcheck // still part of the API Skiff serves.
	endpointSubset  = corev1.EndpointSubset  //nolint:staticcheck // as above.
	endpointAddress = corev1.EndpointAddress //nolint:staticcheck // as above.
	endpointPort    = corev1.EndpointPort    //nolint:staticcheck // as above.
)
