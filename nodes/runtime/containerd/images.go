package containerd

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// normalize turns a Kubernetes image reference into containerd's image
// name (docker.io/library/busybox:latest for busybox).
func normalize(ref string) (string, error) {
	n, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	return n.String(), nil
}

// ImageStatus implements runtime.Runtime.
func (r *Runtime) ImageStatus(ctx context.Context, image string) (runtime.Image, bool, error) {
	name, err := normalize(image)
	if err != nil {
		return runtime.Image{}, false, nil
	}
	img, err := r.client.GetImage(r.ctx(ctx), name)
	if errdefs.IsNotFound(err) {
		return runtime.Image{}, false, nil
	}
	if err != nil {
		return runtime.Image{}, false, fmt.Errorf("containerd: image %s: %w", image, err)
	}
	return runtime.Image{Ref: image, ID: img.Target().Digest.String()}, true, nil
}

// PullImage implements runtime.Runtime: it pulls from the registry the
// reference names (plain HTTP for localhost and loopback addresses) and
// unpacks the image. Failures wrap runtime.ErrImagePull.
func (r *Runtime) PullImage(ctx context.Context, sandboxID, image string) (runtime.Image, error) {
	if _, err := r.sandbox(ctx, sandboxID); err != nil {
		return runtime.Image{}, fmt.Errorf("pull %s: %w", image, err)
	}
	name, err := normalize(image)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("%w: %v", runtime.ErrImagePull, err)
	}
	img, err := r.client.Pull(r.ctx(ctx), name, client.WithPullUnpack, client.WithPullSnapshotter(r.cfg.Snapshotter))
	if err != nil {
		return runtime.Image{}, fmt.Errorf("%w: %s: %v", runtime.ErrImagePull, image, err)
	}
	return runtime.Image{Ref: image, ID: img.Target().Digest.String()}, nil
}

// Import stores the images of a docker archive (docker save) or OCI
// layout archive read from rd and unpacks them, so that containers can be
// created from them with no registry. It returns the images imported,
// named as the archive names them.
func (r *Runtime) Import(ctx context.Context, rd io.Reader) ([]runtime.Image, error) {
	ctx = r.ctx(ctx)
	imgs, err := r.client.Import(ctx, rd)
	if err != nil {
		return nil, fmt.Errorf("containerd: import: %w", err)
	}
	out := make([]runtime.Image, 0, len(imgs))
	for _, i := range imgs {
		img := client.NewImage(r.client, i)
		if err := img.Unpack(ctx, r.cfg.Snapshotter); err != nil {
			return nil, fmt.Errorf("containerd: unpack %s: %w", i.Name, err)
		}
		out = append(out, runtime.Image{Ref: i.Name, ID: i.Target.Digest.String()})
	}
	return out, nil
}
