// Package history keeps a workload's ControllerRevisions, as Kubernetes'
// DaemonSet and StatefulSet controllers do: one ControllerRevision per
// distinct pod template, named <owner>-<hash>, whose data is the
// strategic merge patch that puts that template back
// ({"spec":{"template":{...,"$patch":"replace"}}}, what `kubectl rollout
// undo` applies), numbered by .revision (the highest is the current one).
//
// Decide is pure: from the owner's template and its revisions it returns
// the revision that stands for the template (found or to create, with its
// number bumped when an old template comes back) and the old revisions
// beyond revisionHistoryLimit that no live pod uses. Store is the thin
// shell the DaemonSet and StatefulSet controllers share: it reads an
// owner's revisions from the shared cache, writes what Decide says, and
// waits for its cache to show its writes.
//
// Concurrency: Decide and the helpers are pure; a Store is safe for
// concurrent use (its state is the shared cache).
package history
