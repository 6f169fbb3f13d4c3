// Command binpack is a Skiff scheduler plugin (Score) that packs pods
// onto the fullest nodes that fit them: Kubernetes' MostAllocated
// strategy, as a WASM module. A node scores 100 × requested / allocatable
// with the pod on it, averaged over the resources by weight; cpu and
// memory count containers that request none as 100m and 200Mi, as
// kube-scheduler does.
//
// Settings (JSON, optional): {"resources": [{"name": "cpu", "weight": 1},
// {"name": "memory", "weight": 1}]} (the default), any resource name
// with a weight in [1, 100].
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o binpack.wasm .
package main
