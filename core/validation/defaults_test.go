package validation

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// defaultedPodSpec is what Default makes of podSpec() inside a template.
func defaultedPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:                     "app",
			Image:                    "registry.example/app:1.2.3",
			Ports:                    []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			ImagePullPolicy:          corev1.PullIfNotPresent,
		}},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptrTo(int64(30)),
		DNSPolicy:                     corev1.DNSClusterFirst,
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 "default-scheduler",
	}
}

func TestDefault(t *testing.T) {
	tests := []struct {
		name string
		in   runtime.Object
		want runtime.Object
	}{
		{
			name: "pod",
			in:   &corev1.Pod{ObjectMeta: meta("web"), Spec: podSpec()},
			want: &corev1.Pod{ObjectMeta: meta("web"), Spec: func() corev1.PodSpec {
				s := defaultedPodSpec()
				s.ServiceAccountName = "default"
				s.DeprecatedServiceAccount = "default"
				s.EnableServiceLinks = ptrTo(true)
				s.Priority = ptrTo(int32(0))
				s.PreemptionPolicy = ptrTo(corev1.PreemptLowerPriority)
				return s
			}(), Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort}},
		},
		{
			name: "pod keeps what it was given",
			in: &corev1.Pod{ObjectMeta: meta("web"), Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "app", Image: "nginx", ImagePullPolicy: corev1.PullNever,
					TerminationMessagePath: "/tmp/msg", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				}},
				RestartPolicy: corev1.RestartPolicyNever, DNSPolicy: corev1.DNSDefault, TerminationGracePeriodSeconds: ptrTo(int64(0)),
				SchedulerName: "custom", DeprecatedServiceAccount: "builder", EnableServiceLinks: ptrTo(false), PriorityClassName: "high",
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true)},
			}},
			want: &corev1.Pod{ObjectMeta: meta("web"), Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "app", Image: "nginx", ImagePullPolicy: corev1.PullNever,
					TerminationMessagePath: "/tmp/msg", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				}},
				RestartPolicy: corev1.RestartPolicyNever, DNSPolicy: corev1.DNSDefault, TerminationGracePeriodSeconds: ptrTo(int64(0)),
				SchedulerName: "custom", ServiceAccountName: "builder", DeprecatedServiceAccount: "builder", EnableServiceLinks: ptrTo(false),
				PriorityClassName: "high", SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptrTo(true)},
			}, Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort}},
		},
		{
			name: "pod probes, hooks, env, volumes and host network",
			in: &corev1.Pod{ObjectMeta: meta("web"), Spec: corev1.PodSpec{
				HostNetwork: true,
				Volumes: []corev1.Volume{
					{Name: "scratch"},
					{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
					{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
					{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
				},
				Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:latest",
					Ports:          []corev1.ContainerPort{{ContainerPort: 80}},
					Env:            []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
					LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 81}}, PeriodSeconds: 2},
					Lifecycle:      &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
				}},
			}},
			want: &corev1.Pod{ObjectMeta: meta("web"), Spec: corev1.PodSpec{
				HostNetwork: true,
				Volumes: []corev1.Volume{
					{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: ptrTo(int32(0o644))}}},
					{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: ptrTo(corev1.HostPathUnset)}}},
					{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
						DefaultMode: ptrTo(int32(0o644)),
						Sources:     []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptrTo(int64(3600))}}},
					}}},
				},
				Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:latest", ImagePullPolicy: corev1.PullAlways,
					Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80, Protocol: corev1.ProtocolTCP}},
					Env:   []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}}},
					LivenessProbe: &corev1.Probe{
						ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80), Scheme: corev1.URISchemeHTTP}},
						TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
					},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:   corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 81, Service: ptrTo("")}},
						TimeoutSeconds: 1, PeriodSeconds: 2, SuccessThreshold: 1, FailureThreshold: 3,
					},
					Lifecycle:                &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80), Scheme: corev1.URISchemeHTTP}}},
					TerminationMessagePath:   "/dev/termination-log",
					TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				}},
				RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: ptrTo(int64(30)), DNSPolicy: corev1.DNSClusterFirst,
				SecurityContext: &corev1.PodSecurityContext{}, SchedulerName: "default-scheduler",
				ServiceAccountName: "default", DeprecatedServiceAccount: "default", EnableServiceLinks: ptrTo(true),
				Priority: ptrTo(int32(0)), PreemptionPolicy: ptrTo(corev1.PreemptLowerPriority),
			}, Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort}},
		},
		{
			name: "deployment",
			in:   &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}},
			want: &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
				Replicas: ptrTo(int32(1)),
				Template: corev1.PodTemplateSpec{Spec: defaultedPodSpec()},
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptrTo(intstr.FromString("25%")), MaxSurge: ptrTo(intstr.FromString("25%")),
				}},
				RevisionHistoryLimit: ptrTo(int32(10)), ProgressDeadlineSeconds: ptrTo(int32(600)),
			}},
		},
		{
			name: "deployment keeps Recreate and zero replicas",
			in: &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
				Replicas: ptrTo(int32(0)), Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Template: corev1.PodTemplateSpec{Spec: podSpec()},
			}},
			want: &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
				Replicas: ptrTo(int32(0)), Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Template:             corev1.PodTemplateSpec{Spec: defaultedPodSpec()},
				RevisionHistoryLimit: ptrTo(int32(10)), ProgressDeadlineSeconds: ptrTo(int32(600)),
			}},
		},
		{
			name: "replicaset",
			in:   &appsv1.ReplicaSet{ObjectMeta: meta("web"), Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}},
			want: &appsv1.ReplicaSet{ObjectMeta: meta("web"), Spec: appsv1.ReplicaSetSpec{Replicas: ptrTo(int32(1)), Template: corev1.PodTemplateSpec{Spec: defaultedPodSpec()}}},
		},
		{
			name: "statefulset",
			in: &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
				Template:             corev1.PodTemplateSpec{Spec: podSpec()},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
			}},
			want: &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
				Replicas:            ptrTo(int32(1)),
				Template:            corev1.PodTemplateSpec{Spec: defaultedPodSpec()},
				PodManagementPolicy: appsv1.OrderedReadyPodManagement,
				UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
					Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptrTo(int32(0))},
				},
				RevisionHistoryLimit: ptrTo(int32(10)),
				PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
					WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec:       corev1.PersistentVolumeClaimSpec{VolumeMode: ptrTo(corev1.PersistentVolumeFilesystem)},
					Status:     corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
				}},
			}},
		},
		{
			name: "daemonset",
			in:   &appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}},
			want: &appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{
				Template: corev1.PodTemplateSpec{Spec: defaultedPodSpec()},
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
					MaxUnavailable: ptrTo(intstr.FromInt32(1)), MaxSurge: ptrTo(intstr.FromInt32(0)),
				}},
				RevisionHistoryLimit: ptrTo(int32(10)),
			}},
		},
		{
			name: "job with a uid gets its selector",
			in: &batchv1.Job{ObjectMeta: meta("migrate"), Spec: batchv1.JobSpec{
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "migrate"}}, Spec: podSpec()},
			}},
			want: &batchv1.Job{
				ObjectMeta: func() metav1.ObjectMeta {
					m := meta("migrate")
					m.Labels = map[string]string{"app": "migrate"}
					return m
				}(),
				Spec: batchv1.JobSpec{
					Parallelism: ptrTo(int32(1)), Completions: ptrTo(int32(1)), BackoffLimit: ptrTo(int32(6)),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "0b7d1c2e-0000-4000-8000-000000000001"}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
							"app":                                "migrate",
							"job-name":                           "migrate",
							"controller-uid":                     "0b7d1c2e-0000-4000-8000-000000000001",
							"batch.kubernetes.io/job-name":       "migrate",
							"batch.kubernetes.io/controller-uid": "0b7d1c2e-0000-4000-8000-000000000001",
						}},
						Spec: defaultedPodSpec(),
					},
					CompletionMode: ptrTo(batchv1.NonIndexedCompletion), Suspend: ptrTo(false),
					PodReplacementPolicy: ptrTo(batchv1.TerminatingOrFailed),
				},
			},
		},
		{
			name: "job without a uid waits for its selector",
			in:   &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: "default"}, Spec: batchv1.JobSpec{Parallelism: ptrTo(int32(3)), Template: corev1.PodTemplateSpec{Spec: podSpec()}}},
			want: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: "default"}, Spec: batchv1.JobSpec{
				Parallelism: ptrTo(int32(3)), BackoffLimit: ptrTo(int32(6)),
				Template:       corev1.PodTemplateSpec{Spec: defaultedPodSpec()},
				CompletionMode: ptrTo(batchv1.NonIndexedCompletion), Suspend: ptrTo(false),
				PodReplacementPolicy: ptrTo(batchv1.TerminatingOrFailed),
			}},
		},
		{
			name: "job with a manual selector keeps it",
			in: &batchv1.Job{ObjectMeta: meta("manual"), Spec: batchv1.JobSpec{
				ManualSelector: ptrTo(true), Selector: &metav1.LabelSelector{MatchLabels: appLabels()},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: appLabels()}, Spec: podSpec()},
				PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
					Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
				}}},
			}},
			want: &batchv1.Job{
				ObjectMeta: func() metav1.ObjectMeta { m := meta("manual"); m.Labels = appLabels(); return m }(),
				Spec: batchv1.JobSpec{
					Parallelism: ptrTo(int32(1)), Completions: ptrTo(int32(1)), BackoffLimit: ptrTo(int32(6)),
					ManualSelector: ptrTo(true), Selector: &metav1.LabelSelector{MatchLabels: appLabels()},
					Template:       corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: appLabels()}, Spec: defaultedPodSpec()},
					CompletionMode: ptrTo(batchv1.NonIndexedCompletion), Suspend: ptrTo(false),
					PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
						Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
					}}},
					PodReplacementPolicy: ptrTo(batchv1.Failed),
				},
			},
		},
		{
			name: "cronjob",
			in: &batchv1.CronJob{ObjectMeta: meta("nightly"), Spec: batchv1.CronJobSpec{
				Schedule: "@daily", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}},
			}},
			want: &batchv1.CronJob{ObjectMeta: meta("nightly"), Spec: batchv1.CronJobSpec{
				Schedule: "@daily", ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: ptrTo(false),
				SuccessfulJobsHistoryLimit: ptrTo(int32(3)), FailedJobsHistoryLimit: ptrTo(int32(1)),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: defaultedPodSpec()}}},
			}},
		},
		{
			name: "service",
			in: &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
				ClusterIP: "10.96.0.10",
				Ports:     []corev1.ServicePort{{Port: 80}, {Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}},
			}},
			want: &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
				ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
				Ports: []corev1.ServicePort{
					{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
					{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
				},
				IPFamilyPolicy:        ptrTo(corev1.IPFamilyPolicySingleStack),
				InternalTrafficPolicy: ptrTo(corev1.ServiceInternalTrafficPolicyCluster),
			}},
		},
		{
			name: "load balancer service",
			in: &corev1.Service{ObjectMeta: meta("lb"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityClientIP, Ports: []corev1.ServicePort{{Port: 443}},
			}},
			want: &corev1.Service{ObjectMeta: meta("lb"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityClientIP,
				SessionAffinityConfig:         &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptrTo(int32(10800))}},
				Ports:                         []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(443)}},
				ExternalTrafficPolicy:         corev1.ServiceExternalTrafficPolicyCluster,
				IPFamilyPolicy:                ptrTo(corev1.IPFamilyPolicySingleStack),
				InternalTrafficPolicy:         ptrTo(corev1.ServiceInternalTrafficPolicyCluster),
				AllocateLoadBalancerNodePorts: ptrTo(true),
			}},
		},
		{
			name: "externalname service",
			in:   &corev1.Service{ObjectMeta: meta("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}},
			want: &corev1.Service{ObjectMeta: meta("ext"), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", SessionAffinity: corev1.ServiceAffinityNone,
			}},
		},
		{
			name: "secret",
			in:   &corev1.Secret{ObjectMeta: meta("s"), Data: map[string][]byte{"a": []byte("1")}, StringData: map[string]string{"b": "2", "a": "3"}},
			want: &corev1.Secret{ObjectMeta: meta("s"), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"a": []byte("3"), "b": []byte("2")}},
		},
		{
			name: "namespace",
			in:   &corev1.Namespace{ObjectMeta: clusterMeta("team-a")},
			want: &corev1.Namespace{
				ObjectMeta: func() metav1.ObjectMeta {
					m := clusterMeta("team-a")
					m.Labels = map[string]string{"kubernetes.io/metadata.name": "team-a"}
					return m
				}(),
				Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
				Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
			},
		},
		{
			name: "node",
			in:   &corev1.Node{ObjectMeta: clusterMeta("n1"), Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}},
			want: &corev1.Node{ObjectMeta: clusterMeta("n1"), Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
			}},
		},
		{
			name: "endpoints",
			in:   &endpoints{ObjectMeta: meta("web"), Subsets: []endpointSubset{{Ports: []endpointPort{{Port: 80}}}}},
			want: &endpoints{ObjectMeta: meta("web"), Subsets: []endpointSubset{{Ports: []endpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}},
		},
		{
			name: "kinds without defaults are left alone",
			in:   validConfigMap(),
			want: validConfigMap(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.DeepCopyObject()
			Default(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Default mismatch (-want +got):\n%s", diff)
			}
			again := got.DeepCopyObject()
			Default(again)
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("Default is not idempotent (-first +second):\n%s", diff)
			}
		})
	}
}

func TestDefaultImagePullPolicy(t *testing.T) {
	tests := []struct {
		name  string
		image string
		want  corev1.PullPolicy
	}{
		{"no tag", "nginx", corev1.PullAlways},
		{"latest", "nginx:latest", corev1.PullAlways},
		{"version", "nginx:1.27", corev1.PullIfNotPresent},
		{"registry port without tag", "localhost:5000/nginx", corev1.PullAlways},
		{"registry port with tag", "localhost:5000/team/nginx:1", corev1.PullIfNotPresent},
		{"digest", "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000", corev1.PullIfNotPresent},
		{"latest and digest", "nginx:latest@sha256:0000000000000000000000000000000000000000000000000000000000000000", corev1.PullAlways},
		{"empty", "", corev1.PullIfNotPresent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: tt.image}}}}
			Default(p)
			if diff := cmp.Diff(tt.want, p.Spec.Containers[0].ImagePullPolicy); diff != "" {
				t.Errorf("pull policy for %q (-want +got):\n%s", tt.image, diff)
			}
		})
	}
}

func TestDefaultPodResources(t *testing.T) {
	q := resource.MustParse
	tests := []struct {
		name         string
		resources    []corev1.ResourceRequirements
		wantRequests []corev1.ResourceList
		wantQOS      corev1.PodQOSClass
	}{
		{
			name:         "no resources",
			resources:    []corev1.ResourceRequirements{{}},
			wantRequests: []corev1.ResourceList{nil},
			wantQOS:      corev1.PodQOSBestEffort,
		},
		{
			name:         "limits become requests",
			resources:    []corev1.ResourceRequirements{{Limits: corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}}},
			wantRequests: []corev1.ResourceList{{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}},
			wantQOS:      corev1.PodQOSGuaranteed,
		},
		{
			name: "requests below limits",
			resources: []corev1.ResourceRequirements{{
				Requests: corev1.ResourceList{corev1.ResourceCPU: q("100m")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")},
			}},
			wantRequests: []corev1.ResourceList{{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("1Gi")}},
			wantQOS:      corev1.PodQOSBurstable,
		},
		{
			name: "one container without limits",
			resources: []corev1.ResourceRequirements{
				{Limits: corev1.ResourceList{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}},
				{Requests: corev1.ResourceList{corev1.ResourceMemory: q("64Mi")}},
			},
			wantRequests: []corev1.ResourceList{{corev1.ResourceCPU: q("1"), corev1.ResourceMemory: q("1Gi")}, {corev1.ResourceMemory: q("64Mi")}},
			wantQOS:      corev1.PodQOSBurstable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &corev1.Pod{}
			for i, r := range tt.resources {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: string(rune('a' + i)), Image: "x:1", Resources: r})
			}
			Default(p)
			var got []corev1.ResourceList
			for _, c := range p.Spec.Containers {
				got = append(got, c.Resources.Requests)
			}
			if diff := cmp.Diff(tt.wantRequests, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantQOS, p.Status.QOSClass); diff != "" {
				t.Errorf("QoS class (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultedObjectsValidate(t *testing.T) {
	// Default then Validate is the path every create takes; objects that
	// only say what a user would write must come out valid.
	tests := []struct {
		name string
		obj  runtime.Object
	}{
		{"pod", &corev1.Pod{ObjectMeta: meta("p"), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}},
		{"deployment", &appsv1.Deployment{ObjectMeta: meta("d"), Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: appLabels()}, Template: template(appLabels()),
		}}},
		{"statefulset", &appsv1.StatefulSet{ObjectMeta: meta("s"), Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: appLabels()}, Template: template(appLabels()),
		}}},
		{"daemonset", &appsv1.DaemonSet{ObjectMeta: meta("ds"), Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: appLabels()}, Template: template(appLabels()),
		}}},
		{"job", func() runtime.Object {
			j := &batchv1.Job{ObjectMeta: meta("j"), Spec: batchv1.JobSpec{Template: template(nil)}}
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
			return j
		}()},
		{"service", &corev1.Service{ObjectMeta: meta("svc"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}},
		{"nodeport service", &corev1.Service{ObjectMeta: meta("np"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}}},
		{"secret", &corev1.Secret{ObjectMeta: meta("s"), StringData: map[string]string{"k": "v"}}},
		{"namespace", &corev1.Namespace{ObjectMeta: clusterMeta("ns")}},
		{"endpoints", &endpoints{ObjectMeta: meta("e"), Subsets: []endpointSubset{{Addresses: []endpointAddress{{IP: "10.0.0.1"}}, Ports: []endpointPort{{Port: 80}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Default(tt.obj)
			checkErrors(t, nil, Validate(tt.obj))
		})
	}
}
