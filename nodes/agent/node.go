package agent

import (
	"bufio"
	"bytes"
	"net"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Well-known node labels the agent sets.
const (
	LabelHostname = "kubernetes.io/hostname"
	LabelOS       = "kubernetes.io/os"
	LabelArch     = "kubernetes.io/arch"
)

// nodeLabels are the labels the agent owns on its Node.
func nodeLabels(cfg *Config) map[string]string {
	l := map[string]string{
		LabelHostname:             cfg.Name,
		LabelOS:                   goruntime.GOOS,
		LabelArch:                 goruntime.GOARCH,
		"beta.kubernetes.io/os":   goruntime.GOOS,
		"beta.kubernetes.io/arch": goruntime.GOARCH,
	}
	for k, v := range cfg.Labels {
		l[k] = v
	}
	return l
}

// capacity fills the resources Config.Capacity leaves out from the
// machine.
func capacity(cfg *Config) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range cfg.Capacity {
		out[k] = v.DeepCopy()
	}
	if _, ok := out[corev1.ResourceCPU]; !ok {
		out[corev1.ResourceCPU] = *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI)
	}
	if _, ok := out[corev1.ResourceMemory]; !ok {
		out[corev1.ResourceMemory] = *resource.NewQuantity(machineMemory(), resource.BinarySI)
	}
	if _, ok := out[corev1.ResourceEphemeralStorage]; !ok {
		var fs syscall.Statfs_t
		if err := syscall.Statfs("/", &fs); err == nil {
			out[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI)
		}
	}
	if _, ok := out[corev1.ResourcePods]; !ok {
		out[corev1.ResourcePods] = *resource.NewQuantity(DefaultMaxPods, resource.DecimalSI)
	}
	return out
}

// allocatable is capacity minus what is reserved, never below zero.
func allocatable(capa, reserved corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range capa {
		q := v.DeepCopy()
		if r, ok := reserved[k]; ok {
			q.Sub(r)
			if q.Sign() < 0 {
				q = *resource.NewQuantity(0, q.Format)
			}
		}
		out[k] = q
	}
	return out
}

// machineMemory is MemTotal from /proc/meminfo in bytes (0 if unknown).
func machineMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// hostIP is this machine's first non-loopback IPv4 address.
func hostIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// kubeletVersion is the Kubernetes version whose API the agent speaks.
func kubeletVersion() string {
	v := "v1.0.0"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" && strings.HasPrefix(d.Version, "v0.") {
				v = "v1." + strings.TrimPrefix(d.Version, "v0.")
			}
		}
	}
	return v + "-skiff"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// machineInfo describes this machine.
func machineInfo() corev1.NodeSystemInfo {
	osImage := "Linux"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				osImage = strings.Trim(v, `"`)
			}
		}
	}
	return corev1.NodeSystemInfo{
		MachineID:     readTrim("/etc/machine-id"),
		SystemUUID:    readTrim("/sys/class/dmi/id/product_uuid"),
		BootID:        readTrim("/proc/sys/kernel/random/boot_id"),
		KernelVersion: readTrim("/proc/sys/kernel/osrelease"),
		OSImage:       osImage,
	}
}

// nodeStatus is the status the agent reports. runtimeErr is the last
// runtime health check's error. Conditions keep their transition times
// from old when their status did not change.
func (a *Agent) nodeStatus(now time.Time, info runtime.Info, runtimeErr error, old *corev1.NodeStatus) corev1.NodeStatus {
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	cond := func(typ corev1.NodeConditionType, ok bool, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: typ, Status: corev1.ConditionFalse, Reason: reason, Message: msg, LastHeartbeatTime: t, LastTransitionTime: t}
		if ok {
			c.Status = corev1.ConditionTrue
		}
		if old != nil {
			for _, o := range old.Conditions {
				if o.Type == typ && o.Status == c.Status {
					c.LastTransitionTime = o.LastTransitionTime
				}
			}
		}
		return c
	}
	ready := cond(corev1.NodeReady, true, "KubeletReady", "kubelet is posting ready status")
	if runtimeErr != nil {
		ready = cond(corev1.NodeReady, false, "KubeletNotReady", "container runtime is down: "+runtimeErr.Error())
	}
	si := a.sysInfo
	si.ContainerRuntimeVersion = info.Name + "://" + info.Version
	return corev1.NodeStatus{
		Capacity:    a.capacity,
		Allocatable: a.allocatable,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(corev1.NodeDiskPressure, false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(corev1.NodePIDPressure, false, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			ready,
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: a.hostIP},
			{Type: corev1.NodeHostName, Address: a.cfg.Name},
		},
		NodeInfo: si,
	}
}

// sameNodeStatus compares two statuses ignoring heartbeat times.
func sameNodeStatus(a, b *corev1.NodeStatus) bool {
	strip := func(s *corev1.NodeStatus) *corev1.NodeStatus {
		c := s.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return c
	}
	return semanticEqual(strip(a), strip(b))
}
