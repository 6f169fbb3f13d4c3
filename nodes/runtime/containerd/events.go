package containerd

import (
	"context"
	"fmt"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/typeurl/v2"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Events implements runtime.Runtime from containerd's task events. An OOM
// kill is also recorded on the container, so that its exit reports
// OOMKilled.
func (r *Runtime) Events(ctx context.Context, fn func(runtime.Event)) error {
	ctx = r.ctx(ctx)
	ns := r.cfg.Namespace
	envs, errs := r.client.EventService().Subscribe(ctx,
		fmt.Sprintf(`namespace==%q,topic=="/tasks/exit"`, ns),
		fmt.Sprintf(`namespace==%q,topic=="/tasks/start"`, ns),
		fmt.Sprintf(`namespace==%q,topic=="/tasks/oom"`, ns))
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("containerd: events: %w", err)
		case env := <-envs:
			if env == nil || env.Event == nil {
				continue
			}
			v, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				r.log.Warn("undecodable containerd event", "topic", env.Topic, "err", err)
				continue
			}
			var id string
			typ := runtime.ContainerExited
			switch e := v.(type) {
			case *apievents.TaskExit:
				if e.ID != e.ContainerID { // an exec'd process
					continue
				}
				id = e.ContainerID
			case *apievents.TaskStart:
				id, typ = e.ContainerID, runtime.ContainerStarted
			case *apievents.TaskOOM:
				id = e.ContainerID
				if c, err := r.client.LoadContainer(ctx, id); err == nil {
					if _, err := c.SetLabels(ctx, map[string]string{labelOOM: "true"}); err != nil {
						r.log.Warn("recording an OOM kill", "container", id, "err", err)
					}
				}
				continue
			default:
				continue
			}
			rec, err := r.client.ContainerService().Get(ctx, id)
			if err != nil || rec.Labels[labelKind] != kindContainer {
				continue
			}
			fn(runtime.Event{Type: typ, SandboxID: rec.Labels[labelSandbox], ContainerID: id, Labels: userLabels(rec.Labels)})
		}
	}
}
