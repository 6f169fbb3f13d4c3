package kubeapi

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/skiffhq/skiff/sdk/api"
)

// This file is server-side printing: the columns kubectl get shows are the
// server's, as in Kubernetes, whose printers
// (pkg/printers/internalversion) these follow. Rows always carry the wide
// columns; kubectl hides those of priority 1 unless -o wide.

// col is a column definition.
func col(name, typ, desc string, priority int32) metav1.TableColumnDefinition {
	c := metav1.TableColumnDefinition{Name: name, Type: typ, Description: desc, Priority: priority}
	if name == "Name" && priority == 0 {
		c.Format = "name"
	}
	return c
}

var (
	nameCol = col("Name", "string", metav1.ObjectMeta{}.SwaggerDoc()["name"], 0)
	ageCol  = col("Age", "string", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"], 0)
)

// printer prints one kind.
type printer struct {
	columns []metav1.TableColumnDefinition
	cells   func(obj runtime.Object, now time.Time) []any
}

var printers = map[*api.Resource]printer{
	api.Pods: {[]metav1.TableColumnDefinition{nameCol,
		col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0),
		col("Status", "string", "The aggregate status of the containers in this pod.", 0),
		col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
		ageCol,
		col("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"], 1),
		col("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"], 1),
		col("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"], 1),
		col("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"], 1),
	}, func(o runtime.Object, now time.Time) []any { return podCells(o.(*corev1.Pod), now) }},

	api.Nodes: {[]metav1.TableColumnDefinition{nameCol,
		col("Status", "string", "The status of the node", 0),
		col("Roles", "string", "The roles of the node", 0),
		ageCol,
		col("Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"], 0),
		col("Internal-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"], 1),
		col("External-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"], 1),
		col("OS-Image", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"], 1),
		col("Kernel-Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"], 1),
		col("Container-Runtime", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"], 1),
	}, func(o runtime.Object, now time.Time) []any { return nodeCells(o.(*corev1.Node), now) }},

	api.Namespaces: {[]metav1.TableColumnDefinition{nameCol,
		col("Status", "string", "The status of the namespace", 0), ageCol,
	}, func(o runtime.Object, now time.Time) []any {
		ns := o.(*corev1.Namespace)
		return []any{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}
	}},

	api.ConfigMaps: {[]metav1.TableColumnDefinition{nameCol,
		col("Data", "integer", corev1.ConfigMap{}.SwaggerDoc()["data"], 0), ageCol,
	}, func(o runtime.Object, now time.Time) []any {
		cm := o.(*corev1.ConfigMap)
		return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp, now)}
	}},

	api.Secrets: {[]metav1.TableColumnDefinition{nameCol,
		col("Type", "string", corev1.Secret{}.SwaggerDoc()["type"], 0),
		col("Data", "integer", corev1.Secret{}.SwaggerDoc()["data"], 0), ageCol,
	}, func(o runtime.Object, now time.Time) []any {
		s := o.(*corev1.Secret)
		return []any{s.Name, string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp, now)}
	}},

	api.ServiceAccounts: {[]metav1.TableColumnDefinition{nameCol,
		col("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"], 0), ageCol,
	}, func(o runtime.Object, now time.Time) []any {
		sa := o.(*corev1.ServiceAccount)
		return []any{sa.Name, int64(len(sa.Secrets)), age(sa.CreationTimestamp, now)}
	}},

	api.Services: {[]metav1.TableColumnDefinition{nameCol,
		col("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"], 0),
		col("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"], 0),
		col("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"], 0),
		col("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"], 0),
		ageCol,
		col("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"], 1),
	}, func(o runtime.Object, now time.Time) []any { return serviceCells(o.(*corev1.Service), now) }},

	api.EndpointsRes: {[]metav1.TableColumnDefinition{nameCol,
		col("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"], 0), ageCol, //nolint:staticcheck // core/v1 Endpoints is served
	}, func(o runtime.Object, now time.Time) []any {
		ep := o.(*corev1.Endpoints) //nolint:staticcheck // core/v1 Endpoints is served
		return []any{ep.Name, formatEndpoints(ep), age(ep.CreationTimestamp, now)}
	}},

	api.Events: {[]metav1.TableColumnDefinition{
		col("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"], 0),
		col("Type", "string", corev1.Event{}.SwaggerDoc()["type"], 0),
		col("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"], 0),
		col("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"], 0),
		col("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"], 1),
		col("Source", "string", corev1.Event{}.SwaggerDoc()["source"], 1),
		col("Message", "string", corev1.Event{}.SwaggerDoc()["message"], 0),
		col("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"], 1),
		col("Count", "string", corev1.Event{}.SwaggerDoc()["count"], 1),
		col("Name", "string", metav1.ObjectMeta{}.SwaggerDoc()["name"], 1),
	}, func(o runtime.Object, now time.Time) []any { return eventCells(o.(*corev1.Event), now) }},

	api.Leases: {[]metav1.TableColumnDefinition{nameCol,
		col("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"], 0), ageCol,
	}, func(o runtime.Object, now time.Time) []any {
		l := o.(*coordinationv1.Lease)
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return []any{l.Name, holder, age(l.CreationTimestamp, now)}
	}},

	api.Deployments: {[]metav1.TableColumnDefinition{nameCol,
		col("Ready", "string", "Number of the pod with ready state", 0),
		col("Up-to-date", "string", appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"], 0),
		col("Available", "string", appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"], 0),
		ageCol,
		col("Containers", "string", "Names of each container in the template.", 1),
		col("Images", "string", "Images referenced by each container in the template.", 1),
		col("Selector", "string", appsv1.DeploymentSpec{}.SwaggerDoc()["selector"], 1),
	}, func(o runtime.Object, now time.Time) []any {
		d := o.(*appsv1.Deployment)
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		return []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)),
			int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(d.CreationTimestamp, now),
			names, images, selectorString(d.Spec.Selector)}
	}},

	api.ReplicaSets: {[]metav1.TableColumnDefinition{nameCol,
		col("Desired", "integer", appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"], 0),
		col("Current", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"], 0),
		col("Ready", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"], 0),
		ageCol,
		col("Containers", "string", "Names of each container in the template.", 1),
		col("Images", "string", "Images referenced by each container in the template.", 1),
		col("Selector", "string", appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"], 1),
	}, func(o runtime.Object, now time.Time) []any {
		rs := o.(*appsv1.ReplicaSet)
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		return []any{rs.Name, int64(replicas(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
			age(rs.CreationTimestamp, now), names, images, selectorString(rs.Spec.Selector)}
	}},

	api.StatefulSets: {[]metav1.TableColumnDefinition{nameCol,
		col("Ready", "string", "Number of the pod with ready state", 0),
		ageCol,
		col("Containers", "string", "Names of each container in the template.", 1),
		col("Images", "string", "Images referenced by each container in the template.", 1),
	}, func(o runtime.Object, now time.Time) []any {
		ss := o.(*appsv1.StatefulSet)
		names, images := containerCells(ss.Spec.Template.Spec.Containers)
		return []any{ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicas(ss.Spec.Replicas)),
			age(ss.CreationTimestamp, now), names, images}
	}},

	api.DaemonSets: {[]metav1.TableColumnDefinition{nameCol,
		col("Desired", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"], 0),
		col("Current", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"], 0),
		col("Ready", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"], 0),
		col("Up-to-date", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"], 0),
		col("Available", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"], 0),
		col("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"], 0),
		ageCol,
		col("Containers", "string", "Names of each container in the template.", 1),
		col("Images", "string", "Images referenced by each container in the template.", 1),
		col("Selector", "string", appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"], 1),
	}, func(o runtime.Object, now time.Time) []any {
		ds := o.(*appsv1.DaemonSet)
		names, images := containerCells(ds.Spec.Template.Spec.Containers)
		return []any{ds.Name, int64(ds.Status.DesiredNumberScheduled), int64(ds.Status.CurrentNumberScheduled),
			int64(ds.Status.NumberReady), int64(ds.Status.UpdatedNumberScheduled), int64(ds.Status.NumberAvailable),
			mapOrNone(ds.Spec.Template.Spec.NodeSelector), age(ds.CreationTimestamp, now), names, images, selectorString(ds.Spec.Selector)}
	}},

	api.Jobs: {[]metav1.TableColumnDefinition{nameCol,
		col("Status", "string", "Status of the job.", 0),
		col("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"], 0),
		col("Duration", "string", "Time required to complete the job.", 0),
		ageCol,
		col("Containers", "string", "Names of each container in the template.", 1),
		col("Images", "string", "Images referenced by each container in the template.", 1),
		col("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"], 1),
	}, func(o runtime.Object, now time.Time) []any { return jobCells(o.(*batchv1.Job), now) }},

	api.CronJobs: {[]metav1.TableColumnDefinition{nameCol,
		col("Schedule", "string", batchv1.CronJobSpec{}.SwaggerDoc()["schedule"], 0),
		col("Timezone", "string", batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"], 0),
		col("Suspend", "boolean", batchv1.CronJobSpec{}.SwaggerDoc()["suspend"], 0),
		col("Active", "integer", batchv1.CronJobStatus{}.SwaggerDoc()["active"], 0),
		col("Last Schedule", "string", batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"], 0),
		ageCol,
		col("Containers", "string", "Names of each container in the template.", 1),
		col("Images", "string", "Images referenced by each container in the template.", 1),
		col("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"], 1),
	}, func(o runtime.Object, now time.Time) []any {
		cj := o.(*batchv1.CronJob)
		names, images := containerCells(cj.Spec.JobTemplate.Spec.Template.Spec.Containers)
		last := "<none>"
		if cj.Status.LastScheduleTime != nil {
			last = age(*cj.Status.LastScheduleTime, now)
		}
		tz := "<none>"
		if cj.Spec.TimeZone != nil {
			tz = *cj.Spec.TimeZone
		}
		return []any{cj.Name, cj.Spec.Schedule, tz, cj.Spec.Suspend != nil && *cj.Spec.Suspend, int64(len(cj.Status.Active)),
			last, age(cj.CreationTimestamp, now), names, images, selectorString(cj.Spec.JobTemplate.Spec.Selector)}
	}},
	api.Plugins:           pluginPrinter,
	api.SchedulerProfiles: schedulerProfilePrinter,
}

// genericPrinter prints kinds without a printer of their own.
var genericPrinter = printer{[]metav1.TableColumnDefinition{nameCol, ageCol}, func(o runtime.Object, now time.Time) []any {
	m, _ := meta.Accessor(o)
	return []any{m.GetName(), age(m.GetCreationTimestamp(), now)}
}}

// toTable prints objs of r as a Table, with each row's object as include
// says.
func toTable(r *api.Resource, objs []runtime.Object, include metav1.IncludeObjectPolicy, noHeaders bool) (*metav1.Table, error) {
	p, ok := printers[r]
	if !ok {
		p = genericPrinter
	}
	now := time.Now()
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: formTable}, Rows: make([]metav1.TableRow, 0, len(objs))}
	if !noHeaders {
		t.ColumnDefinitions = p.columns
	}
	for _, o := range objs {
		row := metav1.TableRow{Cells: p.cells(o, now)}
		if pod, ok := o.(*corev1.Pod); ok {
			row.Conditions = podRowConditions(pod)
		}
		switch include {
		case metav1.IncludeMetadata:
			pm := partial(o, "meta.k8s.io/v1")
			raw, err := json.Marshal(&pm)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			row.Object.Raw = raw
		case metav1.IncludeObject:
			if err := api.SetKind(o); err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			raw, err := json.Marshal(o)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			row.Object.Raw = raw
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// age formats how long ago ts was, as kubectl shows ages.
func age(ts metav1.Time, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func selectorString(s *metav1.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "<error>"
	}
	if sel.Empty() {
		return "<none>"
	}
	return sel.String()
}

func mapOrNone(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	return labels.FormatLabels(m)
}

func containerCells(cs []corev1.Container) (names, images string) {
	var n, i []string
	for _, c := range cs {
		n = append(n, c.Name)
		i = append(i, c.Image)
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// podRowConditions marks finished pods, as Kubernetes' printer does.
func podRowConditions(pod *corev1.Pod) []metav1.TableRowCondition {
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(pod.Status.Phase), Message: "The pod has completed successfully."}}
	case corev1.PodFailed:
		return []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(pod.Status.Phase), Message: "The pod failed."}}
	}
	return nil
}

func isRestartable(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func podCells(pod *corev1.Pod, now time.Time) []any {
	restarts, sidecarRestarts := 0, 0
	total := len(pod.Spec.Containers)
	ready := 0
	var lastRestart, lastSidecarRestart metav1.Time
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}
	inits := map[string]*corev1.Container{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		inits[c.Name] = c
		if isRestartable(c) {
			total++
		}
	}
	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		if t := cs.LastTerminationState.Terminated; t != nil && lastRestart.Before(&t.FinishedAt) {
			lastRestart = t.FinishedAt
		}
		if isRestartable(inits[cs.Name]) {
			sidecarRestarts += int(cs.RestartCount)
			if t := cs.LastTerminationState.Terminated; t != nil && lastSidecarRestart.Before(&t.FinishedAt) {
				lastSidecarRestart = t.FinishedAt
			}
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case isRestartable(inits[cs.Name]) && cs.Started != nil && *cs.Started:
			if cs.Ready {
				ready++
			}
			continue
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			switch {
			case t.Reason != "":
				reason = "Init:" + t.Reason
			case t.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}
	if !initializing || podCondition(pod, corev1.PodInitialized) {
		restarts, lastRestart = sidecarRestarts, lastSidecarRestart
		running := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			if t := cs.LastTerminationState.Terminated; t != nil && lastRestart.Before(&t.FinishedAt) {
				lastRestart = t.FinishedAt
			}
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				running = true
				ready++
			}
		}
		if reason == "Completed" && running {
			if podCondition(pod, corev1.PodReady) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	switch {
	case pod.DeletionTimestamp != nil && pod.Status.Reason == "NodeLost":
		reason = "Unknown"
	case pod.DeletionTimestamp != nil && !terminal:
		reason = "Terminating"
	}
	restartsText := strconv.Itoa(restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartsText = fmt.Sprintf("%d (%s ago)", restarts, age(lastRestart, now))
	}
	ip := "<none>"
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIPs[0].IP != "" {
		ip = pod.Status.PodIPs[0].IP
	} else if pod.Status.PodIP != "" {
		ip = pod.Status.PodIP
	}
	gates := "<none>"
	if len(pod.Spec.ReadinessGates) > 0 {
		n := 0
		for _, g := range pod.Spec.ReadinessGates {
			if podCondition(pod, g.ConditionType) {
				n++
			}
		}
		gates = fmt.Sprintf("%d/%d", n, len(pod.Spec.ReadinessGates))
	}
	return []any{pod.Name, fmt.Sprintf("%d/%d", ready, total), reason, restartsText, age(pod.CreationTimestamp, now),
		ip, orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), gates}
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func nodeCells(n *corev1.Node, now time.Time) []any {
	var status []string
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = append(status, "Ready")
			} else {
				status = append(status, "NotReady")
			}
		}
	}
	if len(status) == 0 {
		status = append(status, "Unknown")
	}
	if n.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}
	roleSet := map[string]bool{}
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if role := strings.TrimPrefix(k, "node-role.kubernetes.io/"); role != "" {
				roleSet[role] = true
			}
		case k == "kubernetes.io/role" && v != "":
			roleSet[v] = true
		}
	}
	roles := make([]string, 0, len(roleSet))
	for r := range roleSet {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	address := func(t corev1.NodeAddressType) string {
		for _, a := range n.Status.Addresses {
			if a.Type == t {
				return a.Address
			}
		}
		return "<none>"
	}
	unknown := func(s string) string {
		if s == "" {
			return "<unknown>"
		}
		return s
	}
	info := n.Status.NodeInfo
	return []any{n.Name, strings.Join(status, ","), orNone(strings.Join(roles, ",")), age(n.CreationTimestamp, now), info.KubeletVersion,
		address(corev1.NodeInternalIP), address(corev1.NodeExternalIP), unknown(info.OSImage), unknown(info.KernelVersion), unknown(info.ContainerRuntimeVersion)}
}

func serviceCells(svc *corev1.Service, now time.Time) []any {
	clusterIP := "<none>"
	if len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	} else if svc.Spec.ClusterIP != "" {
		clusterIP = svc.Spec.ClusterIP
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		if p.NodePort > 0 {
			ports = append(ports, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol))
		} else {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		}
	}
	portText := strings.Join(ports, ",")
	if portText == "" {
		portText = "<none>"
	}
	return []any{svc.Name, string(svc.Spec.Type), clusterIP, externalIP(svc), portText, age(svc.CreationTimestamp, now), mapOrNone(svc.Spec.Selector)}
}

func externalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				ips = append(ips, in.IP)
			} else if in.Hostname != "" {
				ips = append(ips, in.Hostname)
			}
		}
		ips = append(ips, svc.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

func formatEndpoints(ep *corev1.Endpoints) string { //nolint:staticcheck // core/v1 Endpoints is served
	const max = 3
	var list []string
	more := 0
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			if len(ss.Ports) == 0 {
				if len(list) < max {
					list = append(list, a.IP)
				} else {
					more++
				}
				continue
			}
			for _, p := range ss.Ports {
				if len(list) < max {
					list = append(list, fmt.Sprintf("%s:%d", a.IP, p.Port))
				} else {
					more++
				}
			}
		}
	}
	s := strings.Join(list, ",")
	switch {
	case s == "":
		return "<none>"
	case more > 0:
		return fmt.Sprintf("%s + %d more...", s, more)
	}
	return s
}

func eventCells(e *corev1.Event, now time.Time) []any {
	first := age(e.FirstTimestamp, now)
	if e.FirstTimestamp.IsZero() {
		first = age(metav1.NewTime(e.EventTime.Time), now)
	}
	last := age(e.LastTimestamp, now)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last = age(metav1.NewTime(e.Series.LastObservedTime.Time), now)
		count = e.Series.Count
	} else if count == 0 {
		count = 1
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target += "/" + e.InvolvedObject.Name
	}
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	if e.Source.Host != "" {
		source += ", " + e.Source.Host
	} else if e.ReportingInstance != "" && source != "" {
		source += ", " + e.ReportingInstance
	}
	return []any{last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath, source, strings.TrimSpace(e.Message), first, int64(count), e.Name}
}

func jobCells(j *batchv1.Job, now time.Time) []any {
	var completions string
	switch {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case j.Spec.Parallelism != nil && *j.Spec.Parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}
	var took string
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(j.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	has := func(t batchv1.JobConditionType) bool {
		for _, c := range j.Status.Conditions {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	status := "Running"
	switch {
	case has(batchv1.JobComplete):
		status = "Complete"
	case has(batchv1.JobFailed):
		status = "Failed"
	case j.DeletionTimestamp != nil:
		status = "Terminating"
	case has(batchv1.JobSuspended):
		status = "Suspended"
	case has(batchv1.JobFailureTarget):
		status = "FailureTarget"
	case has(batchv1.JobSuccessCriteriaMet):
		status = "SuccessCriteriaMet"
	}
	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []any{j.Name, status, completions, took, age(j.CreationTimestamp, now), names, images, selectorString(j.Spec.Selector)}
}
