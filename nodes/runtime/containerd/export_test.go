package containerd

import (
	"context"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/client"
	ctrs "github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SandboxTaskStatus is the status of sandbox id's task ("" if it has
// none), once its creation has ended.
func SandboxTaskStatus(ctx context.Context, r *Runtime, id string) (string, error) {
	if err := r.awaitSandboxTask(ctx, id); err != nil {
		return "", err
	}
	res, err := native(r.client.TaskService().Get(r.ctx(ctx), &tasks.GetRequest{ContainerID: id}))
	if errdefs.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return res.Process.Status.String(), nil
}

// DropSandboxTask kills and deletes sandbox id's task; with legacy it also
// empties the record's spec, as a sandbox of an earlier Skiff had it.
func DropSandboxTask(ctx context.Context, r *Runtime, id string, legacy bool) error {
	if err := r.awaitSandboxTask(ctx, id); err != nil {
		return err
	}
	if err := r.removeSandboxTask(ctx, id); err != nil || !legacy {
		return err
	}
	c, err := r.client.LoadContainer(r.ctx(ctx), id)
	if err != nil {
		return err
	}
	return c.Update(r.ctx(ctx), func(_ context.Context, _ *client.Client, c *ctrs.Container) error {
		var err error
		c.Spec, err = typeurl.MarshalAny(&oci.Spec{Version: specs.Version})
		return err
	})
}
