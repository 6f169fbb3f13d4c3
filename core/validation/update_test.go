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
)

// change is one row of an update table: an old object and how the new one
// differs from it.
type change[T interface {
	runtime.Object
	DeepCopyObject() runtime.Object
}] struct {
	name   string
	old    func() T
	mutate func(T)
	want   []string
}

func runChanges[T interface {
	runtime.Object
	DeepCopyObject() runtime.Object
}](t *testing.T, validate func(newObj, oldObj runtime.Object) []string, tests []change[T]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := tt.old()
			n := old.DeepCopyObject().(T)
			tt.mutate(n)
			got := validate(n, old)
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func update(n, o runtime.Object) []string       { return summary(ValidateUpdate(n, o)) }
func statusUpdate(n, o runtime.Object) []string { return summary(ValidateStatusUpdate(n, o)) }

func boundPod() *corev1.Pod {
	p := validPod()
	p.Spec.NodeName = "node-1"
	p.Spec.ActiveDeadlineSeconds = ptrTo(int64(600))
	p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptrTo(int64(60))}}
	return p
}

func TestValidateUpdatePod(t *testing.T) {
	runChanges(t, update, []change[*corev1.Pod]{
		{"new image", boundPod, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.example/app:1.2.4" }, nil},
		{"labels and annotations", boundPod, func(p *corev1.Pod) {
			p.Labels = map[string]string{"a": "b"}
			p.Annotations = map[string]string{"x/y": "z"}
		}, nil},
		{"image removed", boundPod, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, lines(e(required, "spec.containers[0].image"))},
		{"shorter deadline", boundPod, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptrTo(int64(30)) }, nil},
		{"longer deadline", boundPod, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptrTo(int64(6000)) }, lines(e(invalid, "spec.activeDeadlineSeconds"))},
		{"deadline removed", boundPod, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil }, lines(e(invalid, "spec.activeDeadlineSeconds"))},
		{"toleration added", boundPod, func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists})
		}, nil},
		{"tolerationSeconds changed", boundPod, func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptrTo(int64(5)) }, nil},
		{"toleration changed", boundPod, func(p *corev1.Pod) { p.Spec.Tolerations[0].Key = "other" }, lines(e(forbidden, "spec.tolerations"))},
		{"toleration removed", boundPod, func(p *corev1.Pod) { p.Spec.Tolerations = nil }, lines(e(forbidden, "spec.tolerations"))},
		{"bound to a node", validPod, func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }, nil},
		{"moved to another node", boundPod, func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }, lines(e(invalid, "spec.nodeName"))},
		{"unbound", boundPod, func(p *corev1.Pod) { p.Spec.NodeName = "" }, lines(e(invalid, "spec.nodeName"))},
		{"restart policy changed", boundPod, func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }, lines(e(forbidden, "spec"))},
		{"env changed", boundPod, func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "b"}} }, lines(e(forbidden, "spec"))},
		{"container added", boundPod, func(p *corev1.Pod) {
			c := p.Spec.Containers[0]
			c.Name, c.Ports = "second", nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, lines(e(forbidden, "spec.containers"))},
		{"scheduling gate removed", func() *corev1.Pod {
			p := validPod()
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/quota"}}
			return p
		}, func(p *corev1.Pod) { p.Spec.SchedulingGates = nil }, nil},
		{"scheduling gate added", validPod, func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/quota"}}
		}, lines(e(forbidden, "spec.schedulingGates[0].name"))},
		{"renamed", boundPod, func(p *corev1.Pod) { p.Name = "other" }, lines(e(invalid, "metadata.name"))},
		{"moved namespace", boundPod, func(p *corev1.Pod) { p.Namespace = "other" }, lines(e(invalid, "metadata.namespace"))},
		{"uid changed", boundPod, func(p *corev1.Pod) { p.UID = "another" }, lines(e(invalid, "metadata.uid"))},
		{"uid not sent", boundPod, func(p *corev1.Pod) { p.UID = "" }, nil},
		{"finalizer added while deleting", func() *corev1.Pod {
			p := boundPod()
			now := metav1.NewTime(time.Unix(1700000000, 0))
			p.DeletionTimestamp = &now
			return p
		}, func(p *corev1.Pod) { p.Finalizers = []string{"example.com/hold"} }, lines(e(forbidden, "metadata.finalizers"))},
		{"finalizer removed while deleting", func() *corev1.Pod {
			p := boundPod()
			now := metav1.NewTime(time.Unix(1700000000, 0))
			p.DeletionTimestamp = &now
			p.Finalizers = []string{"example.com/hold"}
			return p
		}, func(p *corev1.Pod) { p.Finalizers = nil }, nil},
	})
}

func TestValidateUpdateWorkloads(t *testing.T) {
	wider := &metav1.LabelSelector{MatchLabels: appLabels(), MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}
	t.Run("deployment", func(t *testing.T) {
		runChanges(t, update, []change[*appsv1.Deployment]{
			{"scaled and new image", validDeployment, func(d *appsv1.Deployment) {
				d.Spec.Replicas = ptrTo(int32(5))
				d.Spec.Template.Spec.Containers[0].Image = "registry.example/app:2"
			}, nil},
			{"selector changed", validDeployment, func(d *appsv1.Deployment) { d.Spec.Selector = wider }, lines(e(invalid, "spec.selector"))},
			{"renamed", validDeployment, func(d *appsv1.Deployment) { d.Name = "web2" }, lines(e(invalid, "metadata.name"))},
			{"update that is invalid itself", validDeployment, func(d *appsv1.Deployment) { d.Spec.Replicas = ptrTo(int32(-1)) }, lines(e(invalid, "spec.replicas"))},
		})
	})
	t.Run("replicaset", func(t *testing.T) {
		runChanges(t, update, []change[*appsv1.ReplicaSet]{
			{"scaled", validReplicaSet, func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = ptrTo(int32(0)) }, nil},
			{"selector changed", validReplicaSet, func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = wider }, lines(e(invalid, "spec.selector"))},
		})
	})
	t.Run("daemonset", func(t *testing.T) {
		runChanges(t, update, []change[*appsv1.DaemonSet]{
			{"new image", validDaemonSet, func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" }, nil},
			{"selector changed", validDaemonSet, func(ds *appsv1.DaemonSet) { ds.Spec.Selector = wider }, lines(e(invalid, "spec.selector"))},
		})
	})
	t.Run("statefulset", func(t *testing.T) {
		runChanges(t, update, []change[*appsv1.StatefulSet]{
			{"scaled, new template and strategy", validStatefulSet, func(ss *appsv1.StatefulSet) {
				ss.Spec.Replicas = ptrTo(int32(3))
				ss.Spec.Template.Spec.Containers[0].Image = "db:2"
				ss.Spec.UpdateStrategy.RollingUpdate.Partition = ptrTo(int32(2))
				ss.Spec.MinReadySeconds = 10
				ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
			}, nil},
			{"serviceName changed", validStatefulSet, func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "db2" }, lines(e(forbidden, "spec"))},
			{"claim templates changed", validStatefulSet, func(ss *appsv1.StatefulSet) {
				ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
			}, lines(e(forbidden, "spec"))},
			{"selector changed", validStatefulSet, func(ss *appsv1.StatefulSet) { ss.Spec.Selector = wider }, lines(e(forbidden, "spec"))},
		})
	})
}

func TestValidateUpdateBatch(t *testing.T) {
	suspended := func() *batchv1.Job {
		j := validJob()
		j.Spec.Suspend = ptrTo(true)
		return j
	}
	manual := func() *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: meta("manual"), Spec: batchv1.JobSpec{
			ManualSelector: ptrTo(true),
			Selector:       &metav1.LabelSelector{MatchLabels: appLabels()},
			Template:       template(appLabels()),
		}}
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		Default(j)
		return j
	}
	indexed := func() *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: meta("indexed"), Spec: batchv1.JobSpec{
			Completions: ptrTo(int32(4)), Parallelism: ptrTo(int32(4)), CompletionMode: ptrTo(batchv1.IndexedCompletion), Template: template(nil),
		}}
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		Default(j)
		return j
	}
	t.Run("job", func(t *testing.T) {
		runChanges(t, update, []change[*batchv1.Job]{
			{"parallelism and suspend changed", validJob, func(j *batchv1.Job) {
				j.Spec.Parallelism = ptrTo(int32(3))
				j.Spec.Suspend = ptrTo(true)
			}, nil},
			{"template changed", validJob, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "other" }, lines(e(invalid, "spec.template"))},
			{"node selector changed while suspended and never started", suspended, func(j *batchv1.Job) {
				j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "b"}
				j.Spec.Template.Annotations = map[string]string{"example.com/why": "quota"}
			}, nil},
			{"image changed while suspended", suspended, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "other" }, lines(e(invalid, "spec.template"))},
			{"completions changed", validJob, func(j *batchv1.Job) { j.Spec.Completions = ptrTo(int32(3)) }, lines(e(invalid, "spec.completions"))},
			{"completion mode changed", validJob, func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptrTo(batchv1.IndexedCompletion)
			}, lines(e(invalid, "spec.completionMode"))},
			{"manual selector changed", manual, func(j *batchv1.Job) {
				j.Spec.Selector = &metav1.LabelSelector{MatchLabels: appLabels(), MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}
			}, lines(e(invalid, "spec.selector"))},
			{"indexed job scaled in tandem", indexed, func(j *batchv1.Job) {
				j.Spec.Completions, j.Spec.Parallelism = ptrTo(int32(6)), ptrTo(int32(6))
			}, nil},
			{"indexed job completions alone", indexed, func(j *batchv1.Job) { j.Spec.Completions = ptrTo(int32(6)) }, lines(e(invalid, "spec.completions"))},
		})
	})
	t.Run("cronjob", func(t *testing.T) {
		longNamed := func() *batchv1.CronJob {
			cj := validCronJob()
			cj.Name = strings.Repeat("c", 60)
			return cj
		}
		runChanges(t, update, []change[*batchv1.CronJob]{
			{"schedule and suspend changed", validCronJob, func(cj *batchv1.CronJob) {
				cj.Spec.Schedule = "*/15 * * * *"
				cj.Spec.Suspend = ptrTo(true)
			}, nil},
			{"old long name kept", longNamed, func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptrTo(true) }, nil},
			{"bad schedule", validCronJob, func(cj *batchv1.CronJob) { cj.Spec.Schedule = "every day" }, lines(e(invalid, "spec.schedule"))},
			{"TZ kept in an old schedule", func() *batchv1.CronJob {
				cj := validCronJob()
				cj.Spec.Schedule = "CRON_TZ=UTC 0 * * * *"
				return cj
			}, func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptrTo(true) }, nil},
		})
	})
}

func TestValidateUpdateCoreKinds(t *testing.T) {
	withIP := func() *corev1.Service {
		s := validService()
		s.Spec.ClusterIP = "10.96.0.10"
		s.Spec.ClusterIPs = []string{"10.96.0.10"}
		return s
	}
	t.Run("service", func(t *testing.T) {
		runChanges(t, update, []change[*corev1.Service]{
			{"ports changed", withIP, func(s *corev1.Service) { s.Spec.Ports = s.Spec.Ports[:1] }, nil},
			{"cluster IP changed", withIP, func(s *corev1.Service) {
				s.Spec.ClusterIP = "10.96.0.11"
				s.Spec.ClusterIPs = []string{"10.96.0.11"}
			}, lines(e(invalid, "spec.clusterIP"), e(invalid, "spec.clusterIPs[0]"))},
			{"cluster IP assigned", validService, func(s *corev1.Service) {
				s.Spec.ClusterIP = "10.96.0.11"
				s.Spec.ClusterIPs = []string{"10.96.0.11"}
			}, nil},
			{"turned into ExternalName", withIP, func(s *corev1.Service) {
				s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", SessionAffinity: corev1.ServiceAffinityNone}
			}, nil},
		})
	})
	t.Run("configmap", func(t *testing.T) {
		immutable := func() *corev1.ConfigMap {
			c := validConfigMap()
			c.Immutable = ptrTo(true)
			return c
		}
		runChanges(t, update, []change[*corev1.ConfigMap]{
			{"data changed", validConfigMap, func(c *corev1.ConfigMap) { c.Data["LOG_LEVEL"] = "info" }, nil},
			{"made immutable", validConfigMap, func(c *corev1.ConfigMap) { c.Immutable = ptrTo(true) }, nil},
			{"immutable data changed", immutable, func(c *corev1.ConfigMap) { c.Data["LOG_LEVEL"] = "info" }, lines(e(forbidden, "data"))},
			{"immutable binary data changed", immutable, func(c *corev1.ConfigMap) { c.BinaryData["logo.png"] = []byte{1} }, lines(e(forbidden, "binaryData"))},
			{"immutable made mutable", immutable, func(c *corev1.ConfigMap) { c.Immutable = nil }, lines(e(forbidden, "immutable"))},
			{"immutable labels changed", immutable, func(c *corev1.ConfigMap) { c.Labels = map[string]string{"a": "b"} }, nil},
		})
	})
	t.Run("secret", func(t *testing.T) {
		immutable := func() *corev1.Secret {
			s := validSecret()
			s.Immutable = ptrTo(true)
			return s
		}
		runChanges(t, update, []change[*corev1.Secret]{
			{"data changed", validSecret, func(s *corev1.Secret) { s.Data["password"] = []byte("x") }, nil},
			{"type changed", validSecret, func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth }, lines(e(invalid, "type"))},
			{"immutable data changed", immutable, func(s *corev1.Secret) { s.Data["password"] = []byte("x") }, lines(e(forbidden, "data"))},
			{"immutable data changed through stringData", immutable, func(s *corev1.Secret) { s.StringData = map[string]string{"password": "x"} }, lines(e(forbidden, "data"))},
			{"immutable data restated through stringData", immutable, func(s *corev1.Secret) { s.StringData = map[string]string{"password": "hunter2"} }, nil},
		})
	})
	t.Run("node", func(t *testing.T) {
		unassigned := func() *corev1.Node {
			n := validNode()
			n.Spec.PodCIDRs, n.Spec.PodCIDR = nil, ""
			return n
		}
		runChanges(t, update, []change[*corev1.Node]{
			{"pod CIDR assigned", unassigned, func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.9.0/24"} }, nil},
			{"pod CIDR changed", validNode, func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.9.0/24"}; n.Spec.PodCIDR = "" }, lines(e(forbidden, "spec.podCIDRs"))},
			{"provider ID changed", func() *corev1.Node { n := validNode(); n.Spec.ProviderID = "skiff://a"; return n },
				func(n *corev1.Node) { n.Spec.ProviderID = "skiff://b" }, lines(e(forbidden, "spec.providerID"))},
			{"taint added", validNode, func(n *corev1.Node) {
				n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute})
			}, nil},
			{"unschedulable", validNode, func(n *corev1.Node) { n.Spec.Unschedulable = true }, nil},
		})
	})
	t.Run("namespace", func(t *testing.T) {
		runChanges(t, update, []change[*corev1.Namespace]{
			{"labelled", validNamespace, func(ns *corev1.Namespace) { ns.Labels["team"] = "a" }, nil},
			{"renamed", validNamespace, func(ns *corev1.Namespace) { ns.Name = "team-b" }, lines(e(invalid, "metadata.name"))},
		})
	})
	t.Run("lease", func(t *testing.T) {
		runChanges(t, update, []change[*coordinationv1.Lease]{
			{"renewed by another holder", validLease, func(l *coordinationv1.Lease) {
				l.Spec.HolderIdentity = ptrTo("skiff-2")
				l.Spec.LeaseTransitions = ptrTo(int32(4))
				now := metav1.NewMicroTime(time.Unix(1700000000, 0))
				l.Spec.RenewTime = &now
			}, nil},
			{"bad duration", validLease, func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptrTo(int32(-1)) }, lines(e(invalid, "spec.leaseDurationSeconds"))},
		})
	})
	t.Run("endpoints", func(t *testing.T) {
		runChanges(t, update, []change[*endpoints]{
			{"addresses changed", validEndpoints, func(ep *endpoints) { ep.Subsets[0].Addresses[0].IP = "10.244.3.3" }, nil},
			{"moved namespace", validEndpoints, func(ep *endpoints) { ep.Namespace = "other" }, lines(e(invalid, "metadata.namespace"))},
		})
	})
	t.Run("event", func(t *testing.T) {
		runChanges(t, update, []change[*corev1.Event]{
			{"count bumped", validEvent, func(ev *corev1.Event) { ev.Count = 2 }, nil},
			{"renamed", validEvent, func(ev *corev1.Event) { ev.Name = "other" }, lines(e(invalid, "metadata.name"))},
		})
	})
	t.Run("serviceaccount", func(t *testing.T) {
		runChanges(t, update, []change[*corev1.ServiceAccount]{
			{"secrets listed", validServiceAccount, func(sa *corev1.ServiceAccount) {
				sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry"}}
			}, nil},
			{"uid changed", validServiceAccount, func(sa *corev1.ServiceAccount) { sa.UID = "x" }, lines(e(invalid, "metadata.uid"))},
		})
	})
}

func TestValidateStatusUpdate(t *testing.T) {
	terminated := func(policy corev1.RestartPolicy) func() *corev1.Pod {
		return func() *corev1.Pod {
			p := boundPod()
			p.Spec.RestartPolicy = policy
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
			return p
		}
	}
	running := func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	}
	t.Run("pod", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*corev1.Pod]{
			{"running with IPs", boundPod, func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodRunning
				p.Status.PodIP = "10.244.1.5"
				p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "fd00::5"}}
				p.Status.HostIP = "192.168.1.10"
				p.Status.HostIPs = []corev1.HostIP{{IP: "192.168.1.10"}}
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: "example.com/warm", Status: corev1.ConditionTrue}}
			}, nil},
			{"unknown phase", boundPod, func(p *corev1.Pod) { p.Status.Phase = "Sleeping" }, lines(e(notSupported, "status.phase"))},
			{"two IPv4 pod IPs", boundPod, func(p *corev1.Pod) {
				p.Status.PodIP = "10.244.1.5"
				p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "10.244.1.6"}}
			}, lines(e(invalid, "status.podIPs"))},
			{"bad pod IP", boundPod, func(p *corev1.Pod) {
				p.Status.PodIP = "10.244.1"
				p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1"}}
			}, lines(e(invalid, "status.podIP"), e(invalid, "status.podIPs[0].ip"))},
			{"podIPs not led by podIP", boundPod, func(p *corev1.Pod) {
				p.Status.PodIP = "10.244.1.5"
				p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.6"}}
			}, lines(e(invalid, "status.podIPs[0].ip"))},
			{"node name changed", boundPod, func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }, lines(e(forbidden, "status.nodeName"))},
			{"QoS class changed", boundPod, func(p *corev1.Pod) { p.Status.QOSClass = corev1.PodQOSGuaranteed }, lines(e(invalid, "status.qosClass"))},
			{"bad condition type", boundPod, func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{{Type: "not valid!", Status: corev1.ConditionTrue}}
			}, lines(e(invalid, "status.conditions[0].type"))},
			{"terminated container restarted under Never", terminated(corev1.RestartPolicyNever), running, lines(e(forbidden, "status.containerStatuses[0].state"))},
			{"terminated container restarted under Always", terminated(corev1.RestartPolicyAlways), running, nil},
			{"uid changed", boundPod, func(p *corev1.Pod) { p.UID = "other" }, lines(e(invalid, "metadata.uid"))},
			{"renamed", boundPod, func(p *corev1.Pod) { p.Name = "other" }, lines(e(invalid, "metadata.name"))},
			{"bad label", boundPod, func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b c"} }, lines(e(invalid, "metadata.labels"))},
		})
	})
	t.Run("deployment", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*appsv1.Deployment]{
			{"progressing", validDeployment, func(d *appsv1.Deployment) {
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, UnavailableReplicas: 2}
			}, nil},
			{"more ready than replicas", validDeployment, func(d *appsv1.Deployment) {
				d.Status = appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 2, AvailableReplicas: 1}
			}, lines(e(invalid, "status.readyReplicas"))},
			{"negative unavailable replicas", validDeployment, func(d *appsv1.Deployment) { d.Status.UnavailableReplicas = -1 }, lines(e(invalid, "status.unavailableReplicas"))},
			{"collision count decremented", func() *appsv1.Deployment {
				d := validDeployment()
				d.Status.CollisionCount = ptrTo(int32(2))
				return d
			}, func(d *appsv1.Deployment) { d.Status.CollisionCount = ptrTo(int32(1)) }, lines(e(invalid, "status.collisionCount"))},
		})
	})
	t.Run("replicaset", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*appsv1.ReplicaSet]{
			{"available above ready", validReplicaSet, func(rs *appsv1.ReplicaSet) {
				rs.Status = appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1, AvailableReplicas: 2}
			}, lines(e(invalid, "status.availableReplicas"))},
		})
	})
	t.Run("statefulset", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*appsv1.StatefulSet]{
			{"current above replicas", validStatefulSet, func(ss *appsv1.StatefulSet) {
				ss.Status = appsv1.StatefulSetStatus{Replicas: 1, CurrentReplicas: 2}
			}, lines(e(invalid, "status.currentReplicas"))},
		})
	})
	t.Run("daemonset", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*appsv1.DaemonSet]{
			{"negative ready count", validDaemonSet, func(ds *appsv1.DaemonSet) { ds.Status.NumberReady = -1 }, lines(e(invalid, "status.numberReady"))},
		})
	})
	t.Run("job", func(t *testing.T) {
		start := metav1.NewTime(time.Unix(1700000000, 0))
		before := metav1.NewTime(time.Unix(1600000000, 0))
		runChanges(t, statusUpdate, []change[*batchv1.Job]{
			{"active", validJob, func(j *batchv1.Job) {
				j.Status.Active = 1
				j.Status.StartTime = &start
				j.Status.Ready = ptrTo(int32(1))
			}, nil},
			{"negative active", validJob, func(j *batchv1.Job) { j.Status.Active = -1 }, lines(e(invalid, "status.active"))},
			{"completed before it started", validJob, func(j *batchv1.Job) { j.Status.StartTime, j.Status.CompletionTime = &start, &before }, lines(e(invalid, "status.completionTime"))},
		})
	})
	t.Run("namespace", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*corev1.Namespace]{
			{"terminating without deletion", validNamespace, func(ns *corev1.Namespace) { ns.Status.Phase = corev1.NamespaceTerminating }, lines(e(invalid, "status.phase"))},
			{"terminating while deleted", func() *corev1.Namespace {
				ns := validNamespace()
				now := metav1.NewTime(time.Unix(1700000000, 0))
				ns.DeletionTimestamp = &now
				return ns
			}, func(ns *corev1.Namespace) { ns.Status.Phase = corev1.NamespaceTerminating }, nil},
		})
	})
	t.Run("node", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*corev1.Node]{
			{"heartbeat", validNode, func(n *corev1.Node) {
				n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
			}, nil},
			{"duplicate address", validNode, func(n *corev1.Node) { n.Status.Addresses = append(n.Status.Addresses, n.Status.Addresses[0]) }, lines(e(duplicate, "status.addresses[1]"))},
			{"negative allocatable", validNode, func(n *corev1.Node) {
				n.Status.Allocatable = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1Gi")}
			}, lines(e(invalid, "status.allocatable[memory]"))},
		})
	})
	t.Run("service", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*corev1.Service]{
			{"load balancer assigned", validService, func(s *corev1.Service) {
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7", IPMode: ptrTo(corev1.LoadBalancerIPModeVIP)}, {Hostname: "lb.example.com"}}
			}, nil},
			{"bad ingress", validService, func(s *corev1.Service) {
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113"}, {Hostname: "203.0.113.8"}, {IPMode: ptrTo(corev1.LoadBalancerIPModeProxy)}}
			}, lines(e(invalid, "status.loadBalancer.ingress[0].ip"), e(invalid, "status.loadBalancer.ingress[1].hostname"), e(forbidden, "status.loadBalancer.ingress[2].ipMode"))},
		})
	})
	t.Run("configmap", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*corev1.ConfigMap]{
			{"moved namespace", validConfigMap, func(c *corev1.ConfigMap) { c.Namespace = "other" }, lines(e(invalid, "metadata.namespace"))},
		})
	})
	t.Run("cronjob", func(t *testing.T) {
		runChanges(t, statusUpdate, []change[*batchv1.CronJob]{
			{"last schedule recorded", validCronJob, func(cj *batchv1.CronJob) {
				now := metav1.NewTime(time.Unix(1700000000, 0))
				cj.Status.LastScheduleTime = &now
			}, nil},
		})
	})
}
