package framework

// nominatedAgainst returns the pods nominated to ni when at least one of
// them counts against pod (see counts), nil otherwise.
func nominatedAgainst(state *CycleState, pod *PodInfo, ni *NodeInfo) []*PodInfo {
	if state.nominated == nil {
		return nil
	}
	pods := state.nominated.NominatedPods(ni.Name())
	for _, np := range pods {
		if counts(np, pod) {
			return pods
		}
	}
	return nil
}

// counts reports whether the nominated pod np keeps pod out of its room:
// it is another pod, of a priority at least pod's.
func counts(np, pod *PodInfo) bool {
	return np.Pod.UID != pod.Pod.UID && PodPriority(np.Pod) >= PodPriority(pod.Pod)
}

// withNominated makes dst a copy of ni with the pods of nominated that
// count against pod added, and returns it. The copy has Generation 0: it
// is a what-if that no plugin may cache.
func withNominated(dst, ni *NodeInfo, pod *PodInfo, nominated []*PodInfo) *NodeInfo {
	ni.CopyTo(dst)
	dst.Generation = 0
	for _, np := range nominated {
		if counts(np, pod) {
			dst.AddPod(np)
		}
	}
	return dst
}
