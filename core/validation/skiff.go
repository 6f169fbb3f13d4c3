package validation

import (
	"encoding/json"
	"fmt"
	"regexp"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// This file validates Skiff's own kinds (skiff.dev/v1alpha1): Plugin and
// SchedulerProfile. Both are cluster-scoped with DNS-1123 subdomain
// names. Plugin names are lower case, so that they never collide with the
// built-in scheduler plugins' names (NodeName, TaintToleration, ...).

// MaxSettingsBytes bounds a plugin's settings (JSON).
const MaxSettingsBytes = 64 << 10

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// IsModuleDigest reports whether s is a plugin module's digest as a
// Plugin must name it: "sha256:" and 64 lower-case hex digits.
func IsModuleDigest(s string) bool { return digestRE.MatchString(s) }

func validatePlugin(p *skiffv1alpha1.Plugin) field.ErrorList {
	errs := validateObjectMeta(&p.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	return append(errs, validatePluginSpec(&p.Spec, field.NewPath("spec"))...)
}

func validatePluginSpec(s *skiffv1alpha1.PluginSpec, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch s.Kind {
	case skiffv1alpha1.KindScheduler:
	case "":
		errs = append(errs, field.Required(fp.Child("kind"), ""))
	default:
		errs = append(errs, field.NotSupported(fp.Child("kind"), s.Kind, []skiffv1alpha1.PluginKind{skiffv1alpha1.KindScheduler}))
	}
	errs = append(errs, validateModuleVersion(s.Version, s.Digest, s.Size, s.Settings, fp)...)
	errs = append(errs, validateFailurePolicy(s.FailurePolicy, fp.Child("failurePolicy"))...)
	hp := fp.Child("history")
	if len(s.History) > skiffv1alpha1.MaxHistory {
		errs = append(errs, field.TooMany(hp, len(s.History), skiffv1alpha1.MaxHistory))
	}
	seen := map[string]bool{}
	current := false
	for i, v := range s.History {
		ip := hp.Index(i)
		errs = append(errs, validateModuleVersion(v.Version, v.Digest, v.Size, v.Settings, ip)...)
		if seen[v.Version] {
			errs = append(errs, field.Duplicate(ip.Child("version"), v.Version))
		}
		seen[v.Version] = true
		if v.Version == s.Version {
			current = true
			if v.Digest != s.Digest {
				errs = append(errs, field.Invalid(fp.Child("digest"), s.Digest, fmt.Sprintf("version %s has digest %s in history", v.Version, v.Digest)))
			}
		}
	}
	if len(s.History) > 0 && !current && s.Version != "" {
		errs = append(errs, field.Invalid(fp.Child("version"), s.Version, "must be one of history's versions"))
	}
	return errs
}

func validateModuleVersion(version, digest string, size int64, settings *runtime.RawExtension, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if version == "" {
		errs = append(errs, field.Required(fp.Child("version"), ""))
	} else {
		errs = append(errs, validateDNS1123Label(version, fp.Child("version"))...)
	}
	if !IsModuleDigest(digest) {
		errs = append(errs, field.Invalid(fp.Child("digest"), digest, `must be "sha256:" and 64 lower-case hex digits`))
	}
	if size <= 0 {
		errs = append(errs, field.Invalid(fp.Child("size"), size, isNotPositiveErrorMsg))
	}
	return append(errs, validateSettings(settings, fp.Child("settings"))...)
}

func validateSettings(r *runtime.RawExtension, fp *field.Path) field.ErrorList {
	if r == nil || len(r.Raw) == 0 {
		return nil
	}
	if len(r.Raw) > MaxSettingsBytes {
		return field.ErrorList{field.TooLong(fp, "", MaxSettingsBytes)}
	}
	if !json.Valid(r.Raw) {
		return field.ErrorList{field.Invalid(fp, string(r.Raw), "must be JSON")}
	}
	return nil
}

func validateFailurePolicy(p skiffv1alpha1.FailurePolicy, fp *field.Path) field.ErrorList {
	switch p {
	case "", skiffv1alpha1.FailurePolicyFail, skiffv1alpha1.FailurePolicyIgnore:
		return nil
	}
	return field.ErrorList{field.NotSupported(fp, p, []skiffv1alpha1.FailurePolicy{skiffv1alpha1.FailurePolicyFail, skiffv1alpha1.FailurePolicyIgnore})}
}

func validateSchedulerProfile(p *skiffv1alpha1.SchedulerProfile) field.ErrorList {
	errs := validateObjectMeta(&p.ObjectMeta, false, apivalidation.NameIsDNSSubdomain)
	fp := field.NewPath("spec")
	s := &p.Spec
	if s.SchedulerName == "" {
		errs = append(errs, field.Required(fp.Child("schedulerName"), ""))
	} else {
		errs = append(errs, validateDNS1123Subdomain(s.SchedulerName, fp.Child("schedulerName"))...)
	}
	if v := s.PercentageOfNodesToScore; v != nil && (*v < 0 || *v > 100) {
		errs = append(errs, field.Invalid(fp.Child("percentageOfNodesToScore"), *v, "must be between 0 and 100"))
	}
	dp := fp.Child("builtins", "disabled")
	seen := map[string]bool{}
	for i, n := range s.Builtins.Disabled {
		switch {
		case n == "":
			errs = append(errs, field.Required(dp.Index(i), ""))
		case n == "DefaultBinder":
			errs = append(errs, field.Forbidden(dp.Index(i), "a profile must bind: DefaultBinder cannot be disabled"))
		case seen[n]:
			errs = append(errs, field.Duplicate(dp.Index(i), n))
		}
		seen[n] = true
	}
	pp := fp.Child("plugins")
	names := map[string]bool{}
	for i, pl := range s.Plugins {
		ip := pp.Index(i)
		switch {
		case pl.Name == "":
			errs = append(errs, field.Required(ip.Child("name"), ""))
		case names[pl.Name]:
			errs = append(errs, field.Duplicate(ip.Child("name"), pl.Name))
		}
		names[pl.Name] = true
		points := map[skiffv1alpha1.ExtensionPoint]bool{}
		for j, pt := range pl.Points {
			switch {
			case pt != skiffv1alpha1.PointFilter && pt != skiffv1alpha1.PointScore:
				errs = append(errs, field.NotSupported(ip.Child("points").Index(j), pt, []skiffv1alpha1.ExtensionPoint{skiffv1alpha1.PointFilter, skiffv1alpha1.PointScore}))
			case points[pt]:
				errs = append(errs, field.Duplicate(ip.Child("points").Index(j), pt))
			}
			points[pt] = true
		}
		if pl.Weight < 0 || pl.Weight > 100 {
			errs = append(errs, field.Invalid(ip.Child("weight"), pl.Weight, "must be between 0 and 100"))
		}
		errs = append(errs, validateSettings(pl.Settings, ip.Child("settings"))...)
		errs = append(errs, validateFailurePolicy(pl.FailurePolicy, ip.Child("failurePolicy"))...)
	}
	return errs
}

func validatePluginUpdate(n, o *skiffv1alpha1.Plugin) field.ErrorList {
	errs := append(validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta), validatePlugin(n)...)
	return append(errs, apivalidation.ValidateImmutableField(n.Spec.Kind, o.Spec.Kind, field.NewPath("spec", "kind"))...)
}

func validateSchedulerProfileUpdate(n, o *skiffv1alpha1.SchedulerProfile) field.ErrorList {
	return append(validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateSchedulerProfile(n)...)
}
