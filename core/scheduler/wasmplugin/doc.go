// Package wasmplugin makes a WASM plugin loaded by the plugins host a
// scheduler framework plugin, so that a profile can name it like a
// built-in one: Register (or Factory) puts it in a framework.Registry
// under the plugin's name, and the profile's PluginConfig gives its
// failure policy (Args).
//
// The adapter's Filter and Score each make at most one call per batch:
// the pod is encoded once per scheduling cycle for each set of pod
// sections plugins read (kept in the CycleState, shared by every WASM
// plugin of the profile), and each node's record is cached per NodeInfo
// and generation (and, for records without resources, per node object),
// so a cycle re-encodes only the nodes that changed since the plugin last
// saw them (about one per cycle: the node the previous pod was assumed
// on). A record encoded again to the same bytes keeps its revision.
//
// Pure plugins (plugins.Info.Pure) are answered from a cache keyed by the
// version's Serial, the pod's record with only the declared sections and
// each node's slot and record revision; the guest is called with the
// nodes whose answers are missing, or not at all (see docs/abi.md,
// "Cached answers"). A failed call caches nothing.
//
// The caches belong to the Factory: every framework plugin it builds
// (profiles are rebuilt for simulations and swaps) shares them.
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
// Concurrency: a Plugin is safe for concurrent use; its caches have one
// mutex, held while a batch's records and answers are looked up or
// stored, never during a guest call.
package wasmplugin
