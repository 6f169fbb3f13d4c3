package subjects

// Names used by uploaded plugins and the scheduler.
const (
	// PluginsBucket is the JetStream Object Store bucket that holds
	// uploaded WebAssembly modules, each named by its digest
	// ("sha256:<hex>").
	PluginsBucket = "plugins"
	// SchedulerQueue is the queue group of scheduler replicas serving
	// requests; only the leading replica subscribes.
	SchedulerQueue = "scheduler"
)

// SchedulerPlan is the subject of dry-run requests (skiff plan) that the
// leading scheduler answers.
func SchedulerPlan() string { return root + ".scheduler.plan" }
