// Package registry keeps the uploaded scheduler plugins: each module in
// the JetStream Object Store (bucket subjects.PluginsBucket), named by its
// digest, and a Plugin object (skiff.dev/v1alpha1) per plugin naming the
// version that should run and the versions pushed before it.
//
// Push checks a module before anything is stored: it must be WebAssembly,
// export the plugin ABI (docs/abi.md) and accept its settings, which is
// found out by loading it in a throw-away host, as the schedulers will.
// Rollback points the Plugin back at an earlier version; the schedulers,
// which watch Plugin objects, swap to it.
//
// Modules is the schedulers' side: modules by digest, from a directory
// on disk (each file checked against its digest) or else the Object
// Store.
//
// Modules no Plugin names are deleted by a collector (core/controllers/
// modulegc) through ListModules and DeleteModule for the Object Store, and
// Modules.Cached and Modules.Uncache for a directory. Only objects and
// files named by a digest are modules; each deletion spares what was
// written after a cutoff, and Push writes a module again when its stored
// copy is older than RefreshAge, so that a grace period protects a module
// from the moment a push stores it until its Plugin names it.
//
// Registry and Modules are safe for concurrent use and start no
// goroutines. Writes to a Plugin object are compare-and-swap on its
// resourceVersion and retried on conflict, so concurrent pushes of one
// plugin each get their own version.
package registry
