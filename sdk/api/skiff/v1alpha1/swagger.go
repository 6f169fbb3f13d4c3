package v1alpha1

// The descriptions kubectl explain shows (the OpenAPI documents are
// generated from these, as from k8s.io/api's SwaggerDoc methods).

// SwaggerDoc describes Plugin.
func (Plugin) SwaggerDoc() map[string]string {
	return map[string]string{
		"":       "Plugin is an uploaded WebAssembly module and its versions; SchedulerProfiles refer to it by name.",
		"spec":   "The version that should run, and the versions pushed before it.",
		"status": "What the scheduler replicas observe: the version served, its state, call counters.",
	}
}

// SwaggerDoc describes PluginSpec.
func (PluginSpec) SwaggerDoc() map[string]string {
	return map[string]string{
		"":              "PluginSpec is the version of a plugin that should run, and its history.",
		"kind":          "The component that loads the plugin: scheduler. Immutable.",
		"version":       "The version that should run; one of history's.",
		"digest":        "The module's digest, sha256:<hex>: its name in the JetStream Object Store bucket plugins.",
		"size":          "The module's size in bytes.",
		"settings":      "JSON passed to the module's configure export when it loads; a module that refuses them is not loaded.",
		"failurePolicy": "What a failed call (trap, timeout, malformed answer) means: Fail (the pod's cycle fails, the default) or Ignore.",
		"history":       "Every version pushed, oldest first (at most 20), for rollback.",
	}
}

// SwaggerDoc describes PluginVersion.
func (PluginVersion) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "PluginVersion is one pushed version of a plugin.",
		"version":  "The version's name (v1, v2, ...).",
		"digest":   "The module's digest, sha256:<hex>.",
		"size":     "The module's size in bytes.",
		"settings": "The settings pushed with the version.",
		"pushed":   "When the version was pushed.",
	}
}

// SwaggerDoc describes PluginStatus.
func (PluginStatus) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                   "PluginStatus is what the scheduler replicas observe of a plugin.",
		"observedGeneration": "The metadata.generation of the spec that state describes.",
		"version":            "The version the leading scheduler serves.",
		"state":              "Loaded, or Refused (message says why; the previous version keeps serving).",
		"message":            "Why the wanted version was refused.",
		"calls":              "Filter and score calls, summed over the replicas.",
		"errors":             "Failed calls and loads, summed over the replicas.",
		"p99Micros":          "The worst replica's 99th percentile call latency, in microseconds.",
		"lastError":          "The latest failed call any replica reported.",
		"replicas":           "Each scheduler replica's report.",
	}
}

// SwaggerDoc describes PluginReplicaStatus.
func (PluginReplicaStatus) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                   "PluginReplicaStatus is one scheduler replica's report on a plugin.",
		"replica":            "The scheduler replica's identity.",
		"observedGeneration": "The metadata.generation of the spec that state describes.",
		"version":            "The version the replica serves.",
		"digest":             "The digest of the module the replica serves.",
		"state":              "Loaded or Refused.",
		"message":            "Why the wanted version was refused.",
		"calls":              "Filter and score calls.",
		"errors":             "Failed calls and loads.",
		"p99Micros":          "99th percentile call latency, in microseconds.",
		"lastError":          "The latest failed call.",
		"updated":            "When the replica wrote this entry.",
	}
}

// SwaggerDoc describes SchedulerProfile.
func (SchedulerProfile) SwaggerDoc() map[string]string {
	return map[string]string{
		"":       "SchedulerProfile is a scheduling policy: pods whose spec.schedulerName is the profile's run through its plugins.",
		"spec":   "The profile's plugins.",
		"status": "Whether the leading scheduler could build the profile.",
	}
}

// SwaggerDoc describes SchedulerProfileSpec.
func (SchedulerProfileSpec) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                         "SchedulerProfileSpec lists a profile's plugins.",
		"schedulerName":            "The spec.schedulerName of the pods the profile schedules; default-scheduler replaces the built-in default profile.",
		"builtins":                 "Which of kube-scheduler's default plugins run.",
		"plugins":                  "Plugins enabled after the built-ins, in order: uploaded plugins by Plugin name, built-ins by name (to set a weight or arguments).",
		"percentageOfNodesToScore": "The share of nodes (1-100) to find feasible ones among before scoring; 0 is adaptive.",
	}
}

// SwaggerDoc describes Builtins.
func (Builtins) SwaggerDoc() map[string]string {
	return map[string]string{
		"":         "Builtins selects the default built-in plugins; empty enables them all.",
		"disabled": "Built-ins not to run; * disables every one but DefaultBinder.",
	}
}

// SwaggerDoc describes ProfilePlugin.
func (ProfilePlugin) SwaggerDoc() map[string]string {
	return map[string]string{
		"":              "ProfilePlugin enables one plugin in a profile.",
		"name":          "A Plugin object's name, or a built-in plugin's (NodeResourcesFit, TaintToleration, ...).",
		"points":        "For an uploaded plugin, the extension points to use (filter, score); empty: all it implements.",
		"weight":        "Multiplies the plugin's scores (0 means 1, at most 100).",
		"settings":      "Overrides an uploaded plugin's settings for this profile, or a built-in's arguments.",
		"failurePolicy": "Overrides the Plugin's failurePolicy for this profile.",
	}
}

// SwaggerDoc describes SchedulerProfileStatus.
func (SchedulerProfileStatus) SwaggerDoc() map[string]string {
	return map[string]string{
		"":                   "SchedulerProfileStatus is what the leading scheduler observes of a profile.",
		"observedGeneration": "The metadata.generation the state describes.",
		"state":              "Active, or Refused (message says why; the previous build keeps scheduling).",
		"message":            "Why the profile could not be built.",
		"plugins":            "The uploaded plugins' versions in use, name@version.",
	}
}

// SwaggerDoc describes PluginList.
func (PluginList) SwaggerDoc() map[string]string {
	return map[string]string{"": "PluginList is a list of Plugins.", "items": "The Plugins."}
}

// SwaggerDoc describes SchedulerProfileList.
func (SchedulerProfileList) SwaggerDoc() map[string]string {
	return map[string]string{"": "SchedulerProfileList is a list of SchedulerProfiles.", "items": "The SchedulerProfiles."}
}
