// Package wasmplugin makes a WASM plugin loaded by the plugins host a
// scheduler framework plugin, so that a profile can name it like a
// built-in one: Register (or Factory) puts it in a framework.Registry
// under the plugin's name, and the profile's PluginConfig gives its
// failure policy (Args).
//
// The adapter's Filter and Score each make one call per batch: the pod
// is encoded once per scheduling cycle (kept in the CycleState, shared by
// every WASM plugin of the profile), and each node's record is cached
// per node and NodeInfo.Generation, so a cycle re-encodes only the nodes
// that changed since the plugin last saw them (about one per cycle: the
// node the previous pod was assumed on).
//
// Failures: a call that fails (any *plugins.Error, or a closed plugin) is
// handled by the failure policy: Fail (the default) returns an Error
// status, so the pod is not scheduled this cycle, its condition says
// why, and it is retried after a back-off; Ignore makes the plugin have
// no opinion for that call (every node passes, every score is 0). Either
// way the host has counted the failure in the plugin's Stats.
//
// Hot swap: the framework fixes a plugin's extension points when the
// profile is built, from the version active then; a later version that
// lacks one of them has no opinion there, and one that adds a point is
// used there only once the profile is rebuilt.
//
// Concurrency: a Plugin is safe for concurrent use; its node cache has
// one mutex, held while a batch's records are looked up, never during a
// guest call.
package wasmplugin
