package builtin

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// ImageLocality prefers nodes that already have the pod's images, by
// their size and by how few nodes have them (an image everywhere is no
// reason to pick a node), as Kubernetes does. Image names match as the
// node reports them; a pod's image without a tag gets ":latest".
type ImageLocality struct{}

var (
	_ framework.PreScorePlugin = ImageLocality{}
	_ framework.ScorePlugin    = ImageLocality{}
)

func newImageLocality(args any, _ framework.Handle) (framework.Plugin, error) {
	return ImageLocality{}, noArgs(args)
}

// Name implements framework.Plugin.
func (ImageLocality) Name() string { return ImageLocalityName }

const (
	mb                    int64 = 1024 * 1024
	minImageThreshold           = 23 * mb
	maxContainerThreshold       = 1000 * mb
)

type podImages []string

func (p podImages) Clone() framework.StateData { return p }

const imageStateKey framework.StateKey = ImageLocalityName + "/prescore"

// PreScore implements framework.PreScorePlugin: pods none of whose images
// any node has skip scoring.
func (ImageLocality) PreScore(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	var imgs podImages
	for _, cs := range [][]corev1.Container{pod.Pod.Spec.InitContainers, pod.Pod.Spec.Containers} {
		for i := range cs {
			img := normalizedImageName(cs[i].Image)
			if state.Nodes().ImageNodes(img) > 0 {
				imgs = append(imgs, img)
			}
		}
	}
	if len(imgs) == 0 {
		return skip
	}
	state.Write(imageStateKey, imgs)
	return nil
}

// Score implements framework.ScorePlugin.
func (ImageLocality) Score(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	imgs, err := framework.ReadAs[podImages](state, imageStateKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	total := len(state.Nodes().List())
	containers := int64(len(pod.Pod.Spec.InitContainers) + len(pod.Pod.Spec.Containers))
	hi := maxContainerThreshold * containers
	for j, ni := range nodes {
		var sum int64
		for _, img := range imgs {
			if size, ok := ni.ImageSizes[img]; ok {
				spread := float64(state.Nodes().ImageNodes(img)) / float64(total)
				sum += int64(float64(size) * spread)
			}
		}
		sum = min(max(sum, minImageThreshold), hi)
		scores[j] = framework.MaxNodeScore * (sum - minImageThreshold) / (hi - minImageThreshold)
	}
	return nil
}

// normalizedImageName adds ":latest" to an image without a tag.
func normalizedImageName(name string) string {
	if strings.LastIndex(name, ":") <= strings.LastIndex(name, "/") {
		name += ":latest"
	}
	return name
}
