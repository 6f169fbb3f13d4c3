package validation

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// mutation is one row of a table that breaks a valid object in one way.
type mutation[T runtime.Object] struct {
	name   string
	mutate func(T)
	want   []string
}

func runMutations[T runtime.Object](t *testing.T, base func() T, tests []mutation[T]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.mutate(o)
			checkErrors(t, tt.want, Validate(o))
		})
	}
}

func TestValidateAcceptsValidObjects(t *testing.T) {
	richPod := func() runtime.Object {
		p := &corev1.Pod{ObjectMeta: meta("web-0"), Spec: richPodSpec()}
		p.Labels = map[string]string{"app": "web", "tier": "frontend"}
		p.Annotations = map[string]string{"example.com/owner": "team-a", corev1.PodDeletionCost: "-10"}
		Default(p)
		return p
	}
	tests := []struct {
		name string
		obj  func() runtime.Object
	}{
		{"pod", func() runtime.Object { return validPod() }},
		{"pod using most of the spec", richPod},
		{"pod with generated name resolved", func() runtime.Object {
			p := validPod()
			p.GenerateName = "web-"
			p.Name = "web-x7k2p"
			return p
		}},
		{"pod named like a subdomain", func() runtime.Object {
			p := validPod()
			p.Name = "web.v2"
			return p
		}},
		{"host-network pod", func() runtime.Object {
			p := &corev1.Pod{ObjectMeta: meta("net"), Spec: podSpec()}
			p.Spec.HostNetwork = true
			Default(p)
			return p
		}},
		{"deployment", func() runtime.Object { return validDeployment() }},
		{"deployment with Recreate", func() runtime.Object {
			d := validDeployment()
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
			return d
		}},
		{"deployment with integer surge", func() runtime.Object {
			d := validDeployment()
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptrTo(intstr.FromInt32(1))
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromInt32(0))
			return d
		}},
		{"replicaset", func() runtime.Object { return validReplicaSet() }},
		{"daemonset", func() runtime.Object { return validDaemonSet() }},
		{"daemonset surging", func() runtime.Object {
			ds := validDaemonSet()
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptrTo(intstr.FromString("10%"))
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromInt32(0))
			return ds
		}},
		{"daemonset OnDelete", func() runtime.Object {
			ds := validDaemonSet()
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
			return ds
		}},
		{"statefulset", func() runtime.Object { return validStatefulSet() }},
		{"statefulset without serviceName", func() runtime.Object {
			ss := validStatefulSet()
			ss.Spec.ServiceName = ""
			return ss
		}},
		{"statefulset OnDelete and Parallel", func() runtime.Object {
			ss := validStatefulSet()
			ss.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
			ss.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
			return ss
		}},
		{"job", func() runtime.Object { return validJob() }},
		{"job before its uid is assigned", func() runtime.Object {
			j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: "default"}, Spec: batchv1.JobSpec{Template: template(nil)}}
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			Default(j)
			return j
		}},
		{"job with manual selector", func() runtime.Object {
			j := &batchv1.Job{ObjectMeta: meta("manual"), Spec: batchv1.JobSpec{
				ManualSelector: ptrTo(true),
				Selector:       &metav1.LabelSelector{MatchLabels: appLabels()},
				Template:       template(appLabels()),
			}}
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
			Default(j)
			return j
		}},
		{"indexed job", func() runtime.Object {
			j := &batchv1.Job{ObjectMeta: meta("indexed"), Spec: batchv1.JobSpec{
				Completions: ptrTo(int32(5)), Parallelism: ptrTo(int32(2)),
				CompletionMode: ptrTo(batchv1.IndexedCompletion), BackoffLimitPerIndex: ptrTo(int32(1)), MaxFailedIndexes: ptrTo(int32(2)),
				Template: template(nil),
			}}
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
			Default(j)
			return j
		}},
		{"cronjob", func() runtime.Object { return validCronJob() }},
		{"cronjob with descriptor, names and zone", func() runtime.Object {
			cj := validCronJob()
			cj.Spec.Schedule = "30 9-17/2 1,15 jan-jun MON-FRI"
			cj.Spec.TimeZone = ptrTo("Europe/Berlin")
			return cj
		}},
		{"cronjob @hourly", func() runtime.Object {
			cj := validCronJob()
			cj.Spec.Schedule = "@hourly"
			cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
			return cj
		}},
		{"service", func() runtime.Object { return validService() }},
		{"headless service without ports", func() runtime.Object {
			s := &corev1.Service{ObjectMeta: meta("db"), Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: appLabels()}}
			Default(s)
			return s
		}},
		{"externalname service", func() runtime.Object {
			s := &corev1.Service{ObjectMeta: meta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com."}}
			Default(s)
			return s
		}},
		{"nodeport service", func() runtime.Object {
			s := &corev1.Service{ObjectMeta: meta("np"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}},
				ClusterIP: "10.96.0.12", SessionAffinity: corev1.ServiceAffinityClientIP,
			}}
			Default(s)
			return s
		}},
		{"loadbalancer service", func() runtime.Object {
			s := &corev1.Service{ObjectMeta: meta("lb"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 443, TargetPort: intstr.FromInt32(8443)}},
				LoadBalancerSourceRanges: []string{"10.0.0.0/8"}, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			}}
			Default(s)
			return s
		}},
		{"configmap", func() runtime.Object { return validConfigMap() }},
		{"secret", func() runtime.Object { return validSecret() }},
		{"tls secret", func() runtime.Object {
			s := &corev1.Secret{ObjectMeta: meta("tls"), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}}
			Default(s)
			return s
		}},
		{"docker config secret from stringData", func() runtime.Object {
			return &corev1.Secret{ObjectMeta: meta("pull"), Type: corev1.SecretTypeDockerConfigJson, StringData: map[string]string{".dockerconfigjson": `{"auths":{}}`}}
		}},
		{"namespace", func() runtime.Object { return validNamespace() }},
		{"node", func() runtime.Object { return validNode() }},
		{"endpoints", func() runtime.Object { return validEndpoints() }},
		{"event", func() runtime.Object { return validEvent() }},
		{"event with an odd but path-safe name", func() runtime.Object {
			ev := validEvent()
			ev.Name = "Web_Pod.ABC:1"
			return ev
		}},
		{"series event", func() runtime.Object {
			ev := validEvent()
			ev.EventTime = metav1.NewMicroTime(time.Unix(1700000000, 0))
			ev.ReportingController = "skiff.dev/scheduler"
			ev.ReportingInstance = "scheduler-1"
			ev.Action = "Binding"
			return ev
		}},
		{"serviceaccount", func() runtime.Object { return validServiceAccount() }},
		{"lease", func() runtime.Object { return validLease() }},
		{"lease with strategy", func() runtime.Object {
			l := validLease()
			l.Spec.Strategy = ptrTo(coordinationv1.OldestEmulationVersion)
			l.Spec.PreferredHolder = ptrTo("skiff-2")
			return l
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, nil, Validate(tt.obj()))
		})
	}
}

func TestValidateMetadata(t *testing.T) {
	longName := strings.Repeat("a", 53)
	bigAnnotations := map[string]string{"example.com/blob": strings.Repeat("x", 256*1024)}
	tests := []struct {
		name string
		obj  func() runtime.Object
		want []string
	}{
		{"missing name", func() runtime.Object { p := validPod(); p.Name = ""; return p }, lines(e(required, "metadata.name"))},
		{"unresolved generateName", func() runtime.Object { p := validPod(); p.Name = ""; p.GenerateName = "web-"; return p }, lines(e(required, "metadata.name"))},
		{"bad generateName", func() runtime.Object { p := validPod(); p.GenerateName = "Web-"; return p }, lines(e(invalid, "metadata.generateName"))},
		{"pod name not a subdomain", func() runtime.Object { p := validPod(); p.Name = "Web"; return p }, lines(e(invalid, "metadata.name"))},
		{"pod without namespace", func() runtime.Object { p := validPod(); p.Namespace = ""; return p }, lines(e(required, "metadata.namespace"))},
		{"bad namespace", func() runtime.Object { p := validPod(); p.Namespace = "a.b"; return p }, lines(e(invalid, "metadata.namespace"))},
		{"namespace name with a dot", func() runtime.Object { ns := validNamespace(); ns.Name = "team.a"; return ns }, lines(e(invalid, "metadata.name"))},
		{"namespace with a namespace", func() runtime.Object { ns := validNamespace(); ns.Namespace = "default"; return ns }, lines(e(forbidden, "metadata.namespace"))},
		{"node with a namespace", func() runtime.Object { n := validNode(); n.Namespace = "default"; return n }, lines(e(forbidden, "metadata.namespace"))},
		{"node name with underscore", func() runtime.Object { n := validNode(); n.Name = "node_1"; return n }, lines(e(invalid, "metadata.name"))},
		{"service name starting with a digit", func() runtime.Object { s := validService(); s.Name = "1web"; return s }, lines(e(invalid, "metadata.name"))},
		{"service name with a dot", func() runtime.Object { s := validService(); s.Name = "web.v1"; return s }, lines(e(invalid, "metadata.name"))},
		{"configmap name with dots is fine", func() runtime.Object { c := validConfigMap(); c.Name = "app.config.v1"; return c }, nil},
		{"event name with a slash", func() runtime.Object { ev := validEvent(); ev.Name = "a/b"; return ev }, lines(e(invalid, "metadata.name"))},
		{"event name ..", func() runtime.Object { ev := validEvent(); ev.Name = ".."; return ev }, lines(e(invalid, "metadata.name"))},
		{"cronjob name over 52 characters", func() runtime.Object { cj := validCronJob(); cj.Name = longName; return cj }, lines(e(invalid, "metadata.name"))},
		{"bad label key", func() runtime.Object { d := validDeployment(); d.Labels = map[string]string{"-bad": "x"}; return d }, lines(e(invalid, "metadata.labels"))},
		{"bad label value", func() runtime.Object { s := validSecret(); s.Labels = map[string]string{"ok": "not ok"}; return s }, lines(e(invalid, "metadata.labels"))},
		{"bad annotation key", func() runtime.Object { s := validSecret(); s.Annotations = map[string]string{"a b": ""}; return s }, lines(e(invalid, "metadata.annotations"))},
		{"annotations over 256 KiB", func() runtime.Object { c := validConfigMap(); c.Annotations = bigAnnotations; return c }, lines(e(tooLong, "metadata.annotations"))},
		{"owner reference without uid", func() runtime.Object {
			rs := validReplicaSet()
			rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}
			return rs
		}, lines(e(required, "metadata.ownerReferences[0].uid"))},
		{"owner reference with bad apiVersion", func() runtime.Object {
			rs := validReplicaSet()
			rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "a/b/c", Kind: "Deployment", Name: "web", UID: "u"}}
			return rs
		}, lines(e(invalid, "metadata.ownerReferences[0].apiVersion"))},
		{"two controller owners", func() runtime.Object {
			p := validPod()
			p.OwnerReferences = []metav1.OwnerReference{
				{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "a", UID: "1", Controller: ptrTo(true)},
				{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "b", UID: "2", Controller: ptrTo(true)},
			}
			return p
		}, lines(e(invalid, "metadata.ownerReferences"))},
		{"unqualified custom finalizer", func() runtime.Object { p := validPod(); p.Finalizers = []string{"cleanup"}; return p }, lines(e(invalid, "metadata.finalizers[0]"))},
		{"qualified and standard finalizers are fine", func() runtime.Object {
			p := validPod()
			p.Finalizers = []string{"example.com/cleanup", metav1.FinalizerOrphanDependents}
			return p
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, tt.want, Validate(tt.obj()))
		})
	}
}

func TestValidatePod(t *testing.T) {
	c0 := "spec.containers[0]"
	runMutations(t, validPod, []mutation[*corev1.Pod]{
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, lines(e(required, "spec.containers"))},
		{"container name not a DNS label", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "App_1" }, lines(e(invalid, c0+".name"))},
		{"container name missing", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }, lines(e(required, c0+".name"))},
		{"duplicate container names", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0])
			p.Spec.Containers[1].Ports = nil
		}, lines(e(duplicate, "spec.containers[1].name"))},
		{"init container named like a container", func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Ports = nil
			p.Spec.InitContainers = []corev1.Container{c}
		}, lines(e(duplicate, "spec.initContainers[0].name"))},
		{"image missing", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, lines(e(required, c0+".image"))},
		{"image with whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }, lines(e(invalid, c0+".image"))},
		{"container port missing", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }, lines(e(required, c0+".ports[0].containerPort"))},
		{"container port too high", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, lines(e(invalid, c0+".ports[0].containerPort"))},
		{"host port negative", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = -1 }, lines(e(invalid, c0+".ports[0].hostPort"))},
		{"port protocol unknown", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "ICMP" }, lines(e(notSupported, c0+".ports[0].protocol"))},
		{"port name too long", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "a-very-long-port-name" }, lines(e(invalid, c0+".ports[0].name"))},
		{"duplicate port names", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 81, Protocol: corev1.ProtocolTCP})
		}, lines(e(duplicate, c0+".ports[1].name"))},
		{"host port used twice", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{
				{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP},
				{ContainerPort: 81, HostPort: 8080, Protocol: corev1.ProtocolTCP},
			}
		}, lines(e(duplicate, c0+".ports[1].hostPort"))},
		{"env name missing", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Value: "x"}} }, lines(e(required, c0+".env[0].name"))},
		{"env name with =", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}} }, lines(e(invalid, c0+".env[0].name"))},
		{"env valueFrom with no source", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{}}}
		}, lines(e(invalid, c0+".env[0].valueFrom"))},
		{"env valueFrom with two sources", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef:     &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"},
			}}}
		}, lines(e(invalid, c0+".env[0].valueFrom"))},
		{"env value and valueFrom", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
			}}}
		}, lines(e(invalid, c0+".env[0].valueFrom"))},
		{"env fieldRef to an unknown field", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.restartPolicy"},
			}}}
		}, lines(e(notSupported, c0+".env[0].valueFrom.fieldRef.fieldPath"))},
		{"env secretKeyRef without key", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}},
			}}}
		}, lines(e(required, c0+".env[0].valueFrom.secretKeyRef.key"))},
		{"envFrom with no source", func(p *corev1.Pod) { p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "X_"}} }, lines(e(invalid, c0+".envFrom"))},
		{"volume name not a DNS label", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "Data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}, lines(e(invalid, "spec.volumes[0].name"))},
		{"duplicate volume names", func(p *corev1.Pod) {
			v := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			p.Spec.Volumes = []corev1.Volume{v, v}
		}, lines(e(duplicate, "spec.volumes[1].name"))},
		{"volume with two sources", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/data"},
			}}}
		}, lines(e(forbidden, "spec.volumes[0].emptyDir"))},
		{"volume with no source", func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "data"}} }, lines(e(required, "spec.volumes[0]"))},
		{"secret volume without a name", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{DefaultMode: ptrTo(int32(0o1777))}}}}
		}, lines(e(required, "spec.volumes[0].secret.secretName"), e(invalid, "spec.volumes[0].secret.defaultMode"))},
		{"hostPath climbing out", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/../etc"}}}}
		}, lines(e(invalid, "spec.volumes[0].hostPath.path"))},
		{"mount of an unknown volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "missing", MountPath: "/data"}}
		}, lines(e(notFound, c0+".volumeMounts[0].name"))},
		{"mount without a path, twice", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/a"}, {Name: "v", MountPath: "/a", SubPath: "../x"}}
		}, lines(e(invalid, c0+".volumeMounts[1].mountPath"), e(invalid, c0+".volumeMounts[1].subPath"))},
		{"restartPolicy unknown", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, lines(e(notSupported, "spec.restartPolicy"))},
		{"dnsPolicy unknown", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }, lines(e(notSupported, "spec.dnsPolicy"))},
		{"dnsPolicy None without dnsConfig", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, lines(e(required, "spec.dnsConfig"))},
		{"request above limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}
		}, lines(e(invalid, c0+".resources.requests"))},
		{"negative request", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1Mi")}
		}, lines(e(invalid, c0+".resources.requests[memory]"))},
		{"unknown resource name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"gpu": resource.MustParse("1")}
		}, lines(e(invalid, c0+".resources.limits[gpu]"))},
		{"fractional extended resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/gpu": resource.MustParse("500m")}
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("500m")}
		}, lines(e(invalid, c0+".resources.limits[example.com/gpu]"), e(invalid, c0+".resources.requests[example.com/gpu]"))},
		{"extended resource request without limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
		}, lines(e(required, c0+".resources.limits"))},
		{"probe without handler", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
		}, lines(e(required, c0+".livenessProbe"))},
		{"probe with two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{SuccessThreshold: 1, ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
			}}
		}, lines(e(forbidden, c0+".readinessProbe.tcpSocket"))},
		{"liveness probe needing two successes", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 2, ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
		}, lines(e(invalid, c0+".livenessProbe.successThreshold"))},
		{"httpGet probe with bad scheme and port", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 1, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/", Port: intstr.FromInt32(0), Scheme: "FTP",
			}}}
		}, lines(e(invalid, c0+".livenessProbe.httpGet.port"), e(notSupported, c0+".livenessProbe.httpGet.scheme"))},
		{"negative probe period", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: -1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}, lines(e(invalid, c0+".readinessProbe.periodSeconds"))},
		{"terminationGracePeriodSeconds negative", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptrTo(int64(-1)) }, lines(e(invalid, "spec.terminationGracePeriodSeconds"))},
		{"activeDeadlineSeconds zero", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptrTo(int64(0)) }, lines(e(invalid, "spec.activeDeadlineSeconds"))},
		{"nodeSelector with bad label", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "a b"} }, lines(e(invalid, "spec.nodeSelector"))},
		{"toleration operator unknown", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: "Maybe"}}
		}, lines(e(notSupported, "spec.tolerations[0].operator"))},
		{"toleration effect unknown", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: "NoRun"}}
		}, lines(e(notSupported, "spec.tolerations[0].effect"))},
		{"toleration without key must be Exists", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}
		}, lines(e(invalid, "spec.tolerations[0].operator"))},
		{"toleration Exists with a value", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "x"}}
		}, lines(e(invalid, "spec.tolerations[0].operator"))},
		{"tolerationSeconds without NoExecute", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptrTo(int64(5))}}
		}, lines(e(invalid, "spec.tolerations[0].effect"))},
		{"init container with a probe", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				LivenessProbe: &corev1.Probe{SuccessThreshold: 1, ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, lines(e(forbidden, "spec.initContainers[0].livenessProbe"))},
		{"container with restartPolicy", func(p *corev1.Pod) {
			p.Spec.Containers[0].RestartPolicy = ptrTo(corev1.ContainerRestartPolicyAlways)
		}, lines(e(forbidden, c0+".restartPolicy"))},
		{"ephemeral containers on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}}}
		}, lines(e(forbidden, "spec.ephemeralContainers"))},
		{"nodeName with scheduling gates", func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		}, lines(e(forbidden, "spec.nodeName"))},
		{"host network port mismatch", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 9000
		}, lines(e(invalid, c0+".ports[0].hostPort"))},
		{"bad hostname and subdomain", func(p *corev1.Pod) { p.Spec.Hostname = "web.0"; p.Spec.Subdomain = "Web" }, lines(e(invalid, "spec.hostname"), e(invalid, "spec.subdomain"))},
		{"bad service account name", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Builder" }, lines(e(invalid, "spec.serviceAccountName"))},
		{"privileged without escalation", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptrTo(true), AllowPrivilegeEscalation: ptrTo(false)}
		}, lines(e(invalid, c0+".securityContext"))},
		{"node affinity without terms", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, lines(e(required, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"))},
		{"topology spread with zero skew", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}}
		}, lines(e(invalid, "spec.topologySpreadConstraints[0].maxSkew"))},
		{"bad pod deletion cost", func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.PodDeletionCost: "lots"}
		}, lines(e(invalid, "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]"))},
	})
}

func TestValidateWithoutDefaults(t *testing.T) {
	// Validate expects defaulted objects; this shows what a caller that
	// forgets Default gets, field by field.
	p := &corev1.Pod{ObjectMeta: meta("web"), Spec: podSpec()}
	checkErrors(t, lines(
		e(required, "spec.terminationGracePeriodSeconds"),
		e(required, "spec.restartPolicy"),
		e(required, "spec.dnsPolicy"),
		e(required, "spec.containers[0].imagePullPolicy"),
		e(required, "spec.containers[0].terminationMessagePolicy"),
		e(required, "spec.containers[0].ports[0].protocol"),
	), Validate(p))
}

func TestValidateWorkloads(t *testing.T) {
	tmplC0 := "spec.template.spec.containers[0]"
	t.Run("deployment", func(t *testing.T) {
		runMutations(t, validDeployment, []mutation[*appsv1.Deployment]{
			{"selector missing", func(d *appsv1.Deployment) { d.Spec.Selector = nil }, lines(e(required, "spec.selector"))},
			{"selector empty", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }, lines(e(invalid, "spec.selector"))},
			{"selector with bad operator", func(d *appsv1.Deployment) {
				d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
			}, lines(e(invalid, "spec.selector"), e(invalid, "spec.selector.matchExpressions[0].operator"))},
			{"template labels do not match", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} }, lines(e(invalid, "spec.template.metadata.labels"))},
			{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptrTo(int32(-1)) }, lines(e(invalid, "spec.replicas"))},
			{"template restartPolicy Never", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, lines(e(notSupported, "spec.template.spec.restartPolicy"))},
			{"template activeDeadlineSeconds", func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptrTo(int64(10)) }, lines(e(forbidden, "spec.template.spec.activeDeadlineSeconds"))},
			{"template container without image", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }, lines(e(required, tmplC0+".image"))},
			{"template with ephemeral containers", func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				}}}
			}, lines(e(forbidden, "spec.template.spec.ephemeralContainers"))},
			{"surge and unavailable both zero", func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate.MaxSurge = ptrTo(intstr.FromInt32(0))
				d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromString("0%"))
			}, lines(e(invalid, "spec.strategy.rollingUpdate.maxUnavailable"))},
			{"maxUnavailable over 100%", func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromString("150%"))
			}, lines(e(invalid, "spec.strategy.rollingUpdate.maxUnavailable"))},
			{"negative maxSurge", func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate.MaxSurge = ptrTo(intstr.FromInt32(-1))
			}, lines(e(invalid, "spec.strategy.rollingUpdate.maxSurge"))},
			{"maxSurge not a percentage", func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate.MaxSurge = ptrTo(intstr.FromString("lots"))
			}, lines(e(invalid, "spec.strategy.rollingUpdate.maxSurge"))},
			{"unknown strategy", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, lines(e(notSupported, "spec.strategy.type"))},
			{"Recreate with rollingUpdate", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }, lines(e(forbidden, "spec.strategy.rollingUpdate"))},
			{"progress deadline not above minReadySeconds", func(d *appsv1.Deployment) {
				d.Spec.MinReadySeconds = 600
			}, lines(e(invalid, "spec.progressDeadlineSeconds"))},
			{"negative revisionHistoryLimit", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptrTo(int32(-1)) }, lines(e(invalid, "spec.revisionHistoryLimit"))},
		})
	})
	t.Run("replicaset", func(t *testing.T) {
		runMutations(t, validReplicaSet, []mutation[*appsv1.ReplicaSet]{
			{"template labels do not match", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = nil }, lines(e(invalid, "spec.template.metadata.labels"))},
			{"selector missing", func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = nil }, lines(e(required, "spec.selector"))},
			{"negative replicas", func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = ptrTo(int32(-3)) }, lines(e(invalid, "spec.replicas"))},
			{"template restartPolicy OnFailure", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, lines(e(notSupported, "spec.template.spec.restartPolicy"))},
		})
	})
	t.Run("daemonset", func(t *testing.T) {
		runMutations(t, validDaemonSet, []mutation[*appsv1.DaemonSet]{
			{"selector empty", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} }, lines(e(invalid, "spec.selector"))},
			{"template labels do not match", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Labels = map[string]string{"app": "db"} }, lines(e(invalid, "spec.template.metadata.labels"))},
			{"surge and unavailable both set", func(ds *appsv1.DaemonSet) {
				ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptrTo(intstr.FromInt32(1))
			}, lines(e(invalid, "spec.updateStrategy.rollingUpdate.maxSurge"))},
			{"surge and unavailable both zero", func(ds *appsv1.DaemonSet) {
				ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromInt32(0))
			}, lines(e(required, "spec.updateStrategy.rollingUpdate.maxUnavailable"))},
			{"unknown update strategy", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = "Sometimes" }, lines(e(notSupported, "spec.updateStrategy.type"))},
			{"template restartPolicy Never", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, lines(e(notSupported, "spec.template.spec.restartPolicy"))},
		})
	})
	t.Run("statefulset", func(t *testing.T) {
		runMutations(t, validStatefulSet, []mutation[*appsv1.StatefulSet]{
			{"pod management policy unknown", func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Random" }, lines(e(invalid, "spec.podManagementPolicy"))},
			{"update strategy unknown", func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.Type = "Canary" }, lines(e(invalid, "spec.updateStrategy"))},
			{"OnDelete with rollingUpdate", func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType }, lines(e(invalid, "spec.updateStrategy.rollingUpdate"))},
			{"negative partition", func(ss *appsv1.StatefulSet) { ss.Spec.UpdateStrategy.RollingUpdate.Partition = ptrTo(int32(-1)) }, lines(e(invalid, "spec.updateStrategy.rollingUpdate.partition"))},
			{"zero maxUnavailable", func(ss *appsv1.StatefulSet) {
				ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromInt32(0))
			}, lines(e(invalid, "spec.updateStrategy.rollingUpdate.maxUnavailable"))},
			{"retention policy unknown", func(ss *appsv1.StatefulSet) {
				ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Archive"
			}, lines(e(notSupported, "spec.persistentVolumeClaimRetentionPolicy.whenScaled"))},
			{"serviceName not a DNS label", func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "DB" }, lines(e(invalid, "spec.serviceName"))},
			{"selector missing", func(ss *appsv1.StatefulSet) { ss.Spec.Selector = nil }, lines(e(required, "spec.selector"))},
			{"template labels do not match", func(ss *appsv1.StatefulSet) { ss.Spec.Template.Labels = map[string]string{"app": "x"} }, lines(e(invalid, "spec.template.metadata.labels"))},
			{"claim template without access modes or storage", func(ss *appsv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates[0].Spec = corev1.PersistentVolumeClaimSpec{VolumeMode: ptrTo(corev1.PersistentVolumeFilesystem)}
			}, lines(e(required, "spec.volumeClaimTemplates[0].spec.accessModes"), e(required, "spec.volumeClaimTemplates[0].spec.resources[storage]"))},
			{"mount of neither a volume nor a claim", func(ss *appsv1.StatefulSet) {
				ss.Spec.Template.Spec.Containers[0].VolumeMounts[0].Name = "logs"
			}, lines(e(notFound, tmplC0+".volumeMounts[0].name"))},
			{"negative replicas", func(ss *appsv1.StatefulSet) { ss.Spec.Replicas = ptrTo(int32(-1)) }, lines(e(invalid, "spec.replicas"))},
			{"template activeDeadlineSeconds", func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.ActiveDeadlineSeconds = ptrTo(int64(1)) }, lines(e(forbidden, "spec.template.spec.activeDeadlineSeconds"))},
		})
	})
}

func TestValidateBatch(t *testing.T) {
	t.Run("job", func(t *testing.T) {
		runMutations(t, validJob, []mutation[*batchv1.Job]{
			{"restartPolicy Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }, lines(e(required, "spec.template.spec.restartPolicy"))},
			// Reported twice, as Kubernetes does: once as a pod spec, once as a Job.
			{"restartPolicy unknown", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "Twice" }, lines(e(notSupported, "spec.template.spec.restartPolicy"), e(notSupported, "spec.template.spec.restartPolicy"))},
			{"negative parallelism, completions and backoffLimit", func(j *batchv1.Job) {
				j.Spec.Parallelism, j.Spec.Completions, j.Spec.BackoffLimit = ptrTo(int32(-1)), ptrTo(int32(-1)), ptrTo(int32(-1))
			}, lines(e(invalid, "spec.parallelism"), e(invalid, "spec.completions"), e(invalid, "spec.backoffLimit"))},
			{"negative activeDeadlineSeconds", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptrTo(int64(-5)) }, lines(e(invalid, "spec.activeDeadlineSeconds"))},
			{"indexed without completions", func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptrTo(batchv1.IndexedCompletion)
				j.Spec.Completions = nil
			}, lines(e(required, "spec.completions"))},
			{"unknown completion mode", func(j *batchv1.Job) { j.Spec.CompletionMode = ptrTo(batchv1.CompletionMode("Ordered")) }, lines(e(notSupported, "spec.completionMode"))},
			{"backoffLimitPerIndex without indexed mode", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptrTo(int32(1)) }, lines(e(invalid, "spec.backoffLimitPerIndex"))},
			{"manual selector missing", func(j *batchv1.Job) {
				j.Spec.ManualSelector = ptrTo(true)
				j.Spec.Selector = nil
			}, lines(e(required, "spec.selector"))},
			{"manual selector not matching", func(j *batchv1.Job) {
				j.Spec.ManualSelector = ptrTo(true)
				j.Spec.Selector = &metav1.LabelSelector{MatchLabels: appLabels()}
			}, lines(e(invalid, "spec.template.metadata.labels"))},
			{"generated selector tampered with", func(j *batchv1.Job) {
				j.Spec.Selector = &metav1.LabelSelector{MatchLabels: appLabels()}
			}, lines(e(invalid, "spec.selector"), e(invalid, "spec.template.metadata.labels"))},
			{"generated label removed", func(j *batchv1.Job) {
				delete(j.Spec.Template.Labels, batchv1.JobNameLabel)
			}, lines(e(required, "spec.template.metadata.labels[batch.kubernetes.io/job-name]"))},
			{"template container without image", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "" }, lines(e(required, "spec.template.spec.containers[0].image"))},
		})
	})
	t.Run("cronjob", func(t *testing.T) {
		runMutations(t, validCronJob, []mutation[*batchv1.CronJob]{
			{"schedule missing", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" }, lines(e(required, "spec.schedule"))},
			{"minute out of range", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" }, lines(e(invalid, "spec.schedule"))},
			{"too few fields", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "* * *" }, lines(e(invalid, "spec.schedule"))},
			{"unknown descriptor", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@fortnightly" }, lines(e(invalid, "spec.schedule"))},
			{"TZ in schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" }, lines(e(invalid, "spec.schedule"))},
			{"unknown time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptrTo("Mars/Olympus_Mons") }, lines(e(invalid, "spec.timeZone"))},
			{"empty time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptrTo("") }, lines(e(invalid, "spec.timeZone"))},
			{"Local time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptrTo("Local") }, lines(e(invalid, "spec.timeZone"))},
			{"time zone with a path in it", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptrTo("../etc/passwd") }, lines(e(invalid, "spec.timeZone"))},
			{"concurrency policy unknown", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Queue" }, lines(e(notSupported, "spec.concurrencyPolicy"))},
			{"job template restartPolicy Always", func(cj *batchv1.CronJob) {
				cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			}, lines(e(required, "spec.jobTemplate.spec.template.spec.restartPolicy"))},
			{"job template with selector", func(cj *batchv1.CronJob) {
				cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: appLabels()}
			}, lines(e(invalid, "spec.jobTemplate.spec.selector"))},
			{"negative history limit", func(cj *batchv1.CronJob) { cj.Spec.FailedJobsHistoryLimit = ptrTo(int32(-1)) }, lines(e(invalid, "spec.failedJobsHistoryLimit"))},
			{"negative starting deadline", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptrTo(int64(-1)) }, lines(e(invalid, "spec.startingDeadlineSeconds"))},
		})
	})
}

func TestValidateService(t *testing.T) {
	runMutations(t, validService, []mutation[*corev1.Service]{
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, lines(e(required, "spec.ports"))},
		{"port zero", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }, lines(e(invalid, "spec.ports[0].port"))},
		{"second port unnamed", func(s *corev1.Service) { s.Spec.Ports[1].Name = "" }, lines(e(required, "spec.ports[1].name"))},
		{"duplicate port names", func(s *corev1.Service) { s.Spec.Ports[1].Name = "http" }, lines(e(duplicate, "spec.ports[1].name"))},
		{"duplicate port numbers", func(s *corev1.Service) { s.Spec.Ports[1].Port = 80 }, lines(e(duplicate, "spec.ports[1]"))},
		{"port name not a DNS label", func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }, lines(e(invalid, "spec.ports[0].name"))},
		{"protocol unknown", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "QUIC" }, lines(e(notSupported, "spec.ports[0].protocol"))},
		{"bad targetPort name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("no_underscores") }, lines(e(invalid, "spec.ports[0].targetPort"))},
		{"type unknown", func(s *corev1.Service) { s.Spec.Type = "Internal" }, lines(e(notSupported, "spec.type"))},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30001 }, lines(e(forbidden, "spec.ports[0].nodePort"))},
		{"bad clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.300" }, lines(e(invalid, "spec.clusterIP"))},
		{"clusterIPs not led by clusterIP", func(s *corev1.Service) {
			s.Spec.ClusterIP = "10.96.0.10"
			s.Spec.ClusterIPs = []string{"10.96.0.11"}
		}, lines(e(invalid, "spec.clusterIPs[0]"))},
		{"ClientIP affinity without config", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }, lines(e(required, "spec.sessionAffinityConfig"))},
		{"sessionAffinity unknown", func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }, lines(e(notSupported, "spec.sessionAffinity"))},
		{"externalTrafficPolicy on ClusterIP", func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}, lines(e(invalid, "spec.externalTrafficPolicy"))},
		{"loopback external IP", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} }, lines(e(invalid, "spec.externalIPs[0]"), e(required, "spec.externalTrafficPolicy"))},
		{"bad selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "a b"} }, lines(e(invalid, "spec.selector"))},
		{"ExternalName without a name", func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, SessionAffinity: corev1.ServiceAffinityNone}
		}, lines(e(required, "spec.externalName"))},
		{"ExternalName with a cluster IP", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com"
			s.Spec.ClusterIP = "10.96.0.10"
		}, lines(e(forbidden, "spec.clusterIP"), e(forbidden, "spec.ipFamilyPolicy"))},
		{"NodePort headless", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ClusterIP = corev1.ClusterIPNone
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, lines(e(invalid, "spec.clusterIP"))},
	})
}

func TestValidateConfigMapAndSecret(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	t.Run("configmap", func(t *testing.T) {
		runMutations(t, validConfigMap, []mutation[*corev1.ConfigMap]{
			{"bad key", func(c *corev1.ConfigMap) { c.Data = map[string]string{"a b": "x"} }, lines(e(invalid, "data[a b]"))},
			{"key in data and binaryData", func(c *corev1.ConfigMap) { c.Data["logo.png"] = "x" }, lines(e(invalid, "data[logo.png]"))},
			{"bad binary key", func(c *corev1.ConfigMap) { c.BinaryData = map[string][]byte{"../x": nil} }, lines(e(invalid, "binaryData[../x]"), e(invalid, "binaryData[../x]"))},
			{"over 1 MiB", func(c *corev1.ConfigMap) { c.Data["big"] = big }, lines(e(tooLong, "data"))},
		})
	})
	t.Run("secret", func(t *testing.T) {
		runMutations(t, validSecret, []mutation[*corev1.Secret]{
			{"bad key", func(s *corev1.Secret) { s.Data["a/b"] = nil }, lines(e(invalid, "data[a/b]"))},
			{"over 1 MiB", func(s *corev1.Secret) { s.Data["big"] = []byte(big) }, lines(e(tooLong, "data"))},
			{"over 1 MiB through stringData", func(s *corev1.Secret) { s.StringData = map[string]string{"big": big} }, lines(e(tooLong, "data"))},
			{"tls without keys", func(s *corev1.Secret) { s.Type = corev1.SecretTypeTLS }, lines(e(required, "data[tls.crt]"), e(required, "data[tls.key]"))},
			{"docker config that is not JSON", func(s *corev1.Secret) {
				s.Type = corev1.SecretTypeDockerConfigJson
				s.Data[corev1.DockerConfigJsonKey] = []byte("{")
			}, lines(e(invalid, "data[.dockerconfigjson]"))},
			{"basic auth without username or password", func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth; s.Data = nil }, lines(e(required, "data[username]"), e(required, "data[password]"))},
			{"service account token without the account", func(s *corev1.Secret) { s.Type = corev1.SecretTypeServiceAccountToken }, lines(e(required, "metadata.annotations[kubernetes.io/service-account.name]"))},
		})
	})
}

func TestValidateOtherKinds(t *testing.T) {
	t.Run("namespace", func(t *testing.T) {
		runMutations(t, validNamespace, []mutation[*corev1.Namespace]{
			{"unqualified finalizer", func(ns *corev1.Namespace) { ns.Spec.Finalizers = append(ns.Spec.Finalizers, "cleanup") }, lines(e(invalid, "spec.finalizers[1]"))},
			{"name too long", func(ns *corev1.Namespace) { ns.Name = strings.Repeat("n", 64) }, lines(e(invalid, "metadata.name"))},
		})
	})
	t.Run("node", func(t *testing.T) {
		runMutations(t, validNode, []mutation[*corev1.Node]{
			{"taint without effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" }, lines(e(required, "spec.taints[0].effect"))},
			{"taint with bad key and value", func(n *corev1.Node) { n.Spec.Taints[0].Key = "-k"; n.Spec.Taints[0].Value = "a b" }, lines(e(invalid, "spec.taints[0].key"), e(invalid, "spec.taints[0].value"))},
			{"duplicate taint", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0]) }, lines(e(duplicate, "spec.taints[1]"))},
			{"bad pod CIDR", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/33"}; n.Spec.PodCIDR = "" }, lines(e(invalid, "spec.podCIDRs[0]"))},
			{"two IPv4 pod CIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs[1] = "10.244.2.0/24" }, lines(e(invalid, "spec.podCIDRs"))},
			{"negative capacity", func(n *corev1.Node) { n.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("-1") }, lines(e(invalid, "status.capacity[cpu]"))},
		})
	})
	t.Run("endpoints", func(t *testing.T) {
		runMutations(t, validEndpoints, []mutation[*endpoints]{
			{"subset without addresses", func(ep *endpoints) {
				ep.Subsets[0].Addresses, ep.Subsets[0].NotReadyAddresses = nil, nil
			}, lines(e(required, "subsets[0]"))},
			{"bad address", func(ep *endpoints) { ep.Subsets[0].Addresses[0].IP = "10.244.1" }, lines(e(invalid, "subsets[0].addresses[0].ip"))},
			{"loopback address", func(ep *endpoints) { ep.Subsets[0].Addresses[0].IP = "127.0.0.1" }, lines(e(invalid, "subsets[0].addresses[0].ip"))},
			{"unnamed port among many", func(ep *endpoints) { ep.Subsets[0].Ports[1].Name = "" }, lines(e(required, "subsets[0].ports[1].name"))},
			{"port zero", func(ep *endpoints) { ep.Subsets[0].Ports[0].Port = 0 }, lines(e(invalid, "subsets[0].ports[0].port"))},
			{"bad node name", func(ep *endpoints) { ep.Subsets[0].Addresses[0].NodeName = ptrTo("Node 1") }, lines(e(invalid, "subsets[0].addresses[0].nodeName"))},
		})
	})
	t.Run("event", func(t *testing.T) {
		runMutations(t, validEvent, []mutation[*corev1.Event]{
			{"involved object elsewhere", func(ev *corev1.Event) { ev.InvolvedObject.Namespace = "kube-system" }, lines(e(invalid, "involvedObject.namespace"))},
			{"series event without reporting fields", func(ev *corev1.Event) {
				ev.EventTime = metav1.NewMicroTime(time.Unix(1700000000, 0))
			}, lines(e(required, "reportingComponent"), e(invalid, "reportingComponent"), e(invalid, "reportingComponent"), e(required, "reportingInstance"), e(required, "action"))},
			{"series event with a long reason", func(ev *corev1.Event) {
				ev.EventTime = metav1.NewMicroTime(time.Unix(1700000000, 0))
				ev.ReportingController, ev.ReportingInstance, ev.Action = "skiff.dev/kubelet", "node-1", "Pulling"
				ev.Reason = strings.Repeat("r", 129)
			}, lines(e(invalid, "reason"))},
		})
	})
	t.Run("lease", func(t *testing.T) {
		runMutations(t, validLease, []mutation[*coordinationv1.Lease]{
			{"zero duration", func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptrTo(int32(0)) }, lines(e(invalid, "spec.leaseDurationSeconds"))},
			{"negative transitions", func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptrTo(int32(-1)) }, lines(e(invalid, "spec.leaseTransitions"))},
			{"preferred holder without strategy", func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptrTo("skiff-2") }, lines(e(forbidden, "spec.preferredHolder"))},
			{"unknown strategy", func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptrTo(coordinationv1.CoordinatedLeaseStrategy("Newest"))
			}, lines(e(notSupported, "spec.strategy"))},
		})
	})
	t.Run("serviceaccount", func(t *testing.T) {
		runMutations(t, validServiceAccount, []mutation[*corev1.ServiceAccount]{
			{"bad name", func(sa *corev1.ServiceAccount) { sa.Name = "Robot" }, lines(e(invalid, "metadata.name"))},
		})
	})
}

func TestValidateMessages(t *testing.T) {
	// A few errors whose whole text matters: clients and people read them.
	tests := []struct {
		name string
		errs func() field.ErrorList
		want []string
	}{
		{"bad pod name", func() field.ErrorList { p := validPod(); p.Name = "Foo"; return Validate(p) }, []string{
			`metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{"image missing", func() field.ErrorList { p := validPod(); p.Spec.Containers[0].Image = ""; return Validate(p) }, []string{
			`spec.containers[0].image: Required value`,
		}},
		{"selector mismatch", func() field.ErrorList {
			d := validDeployment()
			d.Spec.Template.Labels = map[string]string{"app": "other"}
			return Validate(d)
		}, []string{
			"spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`",
		}},
		{"request above limit", func() field.ErrorList {
			p := validPod()
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
			}
			return Validate(p)
		}, []string{
			`spec.containers[0].resources.requests: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi`,
		}},
		{"job restart policy", func() field.ErrorList {
			j := validJob()
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			return Validate(j)
		}, []string{
			`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
		}},
		{"cron minute out of range", func() field.ErrorList {
			cj := validCronJob()
			cj.Spec.Schedule = "61 * * * *"
			return Validate(cj)
		}, []string{
			`spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`,
		}},
		{"pod update of other fields", func() field.ErrorList {
			old := validPod()
			n := old.DeepCopy()
			n.Spec.RestartPolicy = corev1.RestartPolicyNever
			n.Spec.Containers[0].Args = []string{"--verbose"}
			return ValidateUpdate(n, old)
		}, []string{
			"spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.schedulingGates` (only deletions),`spec.nodeName` (only from unset); changed: spec.containers[0].args, spec.restartPolicy",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, err := range tt.errs() {
				got = append(got, err.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnknownKindsAndNilObjects(t *testing.T) {
	tests := []struct {
		name string
		errs func() field.ErrorList
		want []string
	}{
		{"unknown kind validates clean", func() field.ErrorList { return Validate(&corev1.PersistentVolume{}) }, nil},
		{"nil interface", func() field.ErrorList { return Validate(nil) }, nil},
		{"typed nil", func() field.ErrorList { return Validate((*corev1.Pod)(nil)) }, lines(e(internal, "<nil>"))},
		{"update of unknown kind", func() field.ErrorList { return ValidateUpdate(&corev1.PersistentVolume{}, &corev1.PersistentVolume{}) }, nil},
		{"update across kinds", func() field.ErrorList { return ValidateUpdate(validPod(), validService()) }, lines(e(internal, "<nil>"))},
		{"update from nil", func() field.ErrorList { return ValidateUpdate(validPod(), nil) }, lines(e(internal, "<nil>"))},
		{"update from typed nil", func() field.ErrorList { return ValidateUpdate(validPod(), (*corev1.Pod)(nil)) }, lines(e(internal, "<nil>"))},
		{"update to typed nil", func() field.ErrorList { return ValidateUpdate((*corev1.Pod)(nil), validPod()) }, lines(e(internal, "<nil>"))},
		{"status update across kinds", func() field.ErrorList { return ValidateStatusUpdate(validDeployment(), validReplicaSet()) }, lines(e(internal, "<nil>"))},
		{"status update of unknown kind", func() field.ErrorList { return ValidateStatusUpdate(&corev1.PersistentVolume{}, nil) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, tt.want, tt.errs())
		})
	}
	// Default must shrug these off.
	Default(nil)
	Default((*corev1.Pod)(nil))
	Default((*batchv1.CronJob)(nil))
	Default(&corev1.PersistentVolume{})
}
