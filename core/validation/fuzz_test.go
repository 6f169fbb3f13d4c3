package validation

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// FuzzValidatePod decodes arbitrary JSON into a Pod and checks that Default,
// Validate and the update checks never panic on it, whatever it holds.
func FuzzValidatePod(f *testing.F) {
	seeds := []any{
		validPod(),
		&corev1.Pod{ObjectMeta: meta("rich"), Spec: richPodSpec()},
		&corev1.Pod{},
	}
	for _, s := range seeds {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatalf("marshal seed: %v", err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"spec":{"containers":[{"name":"a","image":"b","ports":[{"containerPort":99999999,"hostPort":-1}],"env":[{"name":"","valueFrom":{}}]}],"volumes":[{"name":"v","hostPath":{},"emptyDir":{}}]}}`))
	f.Add([]byte(`{"spec":{"containers":[{"resources":{"limits":{"cpu":"-1","hugepages-2Mi":"1Mi"},"requests":{"example.com/x":"0.5"}}}],"initContainers":[{"restartPolicy":"Always","lifecycle":{"preStop":{"sleep":{"seconds":-3}}}}]}}`))
	f.Add([]byte(`{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{}},"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{}]}},"topologySpreadConstraints":[{"minDomains":0}],"dnsPolicy":"None","dnsConfig":{}}}`))
	f.Add([]byte(`{"status":{"podIPs":[{"ip":"::1"},{"ip":"1.2.3.4"},{"ip":"x"}],"containerStatuses":[{"state":{"terminated":{}}}]}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		var pod corev1.Pod
		if err := json.Unmarshal(data, &pod); err != nil {
			t.Skip("not a pod")
		}
		raw := pod.DeepCopy()
		_ = Validate(raw)
		Default(&pod)
		_ = Validate(&pod)
		old := pod.DeepCopy()
		_ = ValidateUpdate(&pod, old)
		_ = ValidateUpdate(&pod, raw)
		_ = ValidateStatusUpdate(&pod, raw)
		_ = ValidateStatusUpdate(raw, &pod)
	})
}
