package controllers_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/job"
	"github.com/skiffhq/skiff/sdk/client"
)

func newJob(name string, completions, parallelism int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{Completions: &completions, Parallelism: &parallelism,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "pi", Image: "perl:5.34"}}}}},
	}
}

// waitJob waits for the Job's condition t, and returns the Job.
func waitJob(t *testing.T, c *client.Client, name string, cond batchv1.JobConditionType, timeout time.Duration) *batchv1.Job {
	t.Helper()
	var j *batchv1.Job
	testenv.Eventually(t, timeout, func() error {
		var err error
		if j, err = client.For[*batchv1.Job](c).Get(t.Context(), "default", name); err != nil {
			return err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == cond && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("no %s condition: %+v", cond, j.Status)
	})
	return j
}

func jobPods(t *testing.T, c *client.Client, name string) []*corev1.Pod {
	t.Helper()
	ps, _, err := client.For[*corev1.Pod](c).List(t.Context(), "default", metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestJobCompletes(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, RunFor: 100 * time.Millisecond})
	startManager(t, e, "m1")
	start := time.Now()
	if _, err := client.For[*batchv1.Job](e.Client).Create(t.Context(), newJob("pi", 5, 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, e.Client, "pi", batchv1.JobComplete, 20*time.Second)
	t.Logf("5 completions, 2 at a time, in %v", time.Since(start).Round(time.Millisecond))
	if j.Status.Succeeded != 5 || j.Status.Failed != 0 || j.Status.Active != 0 || j.Status.CompletionTime == nil || j.Status.StartTime == nil {
		t.Fatalf("status %+v", j.Status)
	}
	ps := jobPods(t, e.Client, "pi")
	if len(ps) != 5 {
		t.Fatalf("%d pods, want exactly 5", len(ps))
	}
	for _, p := range ps {
		if slices.Contains(p.Finalizers, job.TrackingFinalizer) || p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("pod %s: phase %s finalizers %v", p.Name, p.Status.Phase, p.Finalizers)
		}
	}
}

func TestJobBackoffLimit(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, RunFor: 50 * time.Millisecond,
		Outcome: func(*corev1.Pod) corev1.PodPhase { return corev1.PodFailed }})
	startManager(t, e, "m1")
	jb := newJob("fails", 1, 1)
	limit := int32(2)
	jb.Spec.BackoffLimit = &limit
	if _, err := client.For[*batchv1.Job](e.Client).Create(t.Context(), jb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, e.Client, "fails", batchv1.JobFailed, 20*time.Second)
	if j.Status.Failed != 3 || j.Status.Succeeded != 0 {
		t.Fatalf("status %+v", j.Status)
	}
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Reason != job.ReasonBackoffLimitExceeded {
			t.Fatalf("reason %s", c.Reason)
		}
	}
	if n := len(jobPods(t, e.Client, "fails")); n != 3 {
		t.Fatalf("%d pods, want 3 (one try and two retries)", n)
	}
}

func TestJobDeadlineAndTTL(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, RunFor: time.Hour, TerminateAfter: 50 * time.Millisecond})
	startManager(t, e, "m1")
	jb := newJob("slow", 1, 1)
	deadline, ttl := int64(1), int32(1)
	jb.Spec.ActiveDeadlineSeconds = &deadline
	jb.Spec.TTLSecondsAfterFinished = &ttl
	if _, err := client.For[*batchv1.Job](e.Client).Create(t.Context(), jb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitJob(t, e.Client, "slow", batchv1.JobFailed, 20*time.Second)
	t.Logf("failed by its 1s deadline after %v", time.Since(start).Round(time.Millisecond))
	// Then, a second after finishing, it is deleted, and its pods with it.
	testenv.Eventually(t, 20*time.Second, func() error {
		if _, err := client.For[*batchv1.Job](e.Client).Get(t.Context(), "default", "slow"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("job still there (%v)", err)
		}
		if n := len(jobPods(t, e.Client, "slow")); n > 0 {
			return fmt.Errorf("%d pods left", n)
		}
		return nil
	})
	t.Logf("deleted by its TTL, with its pods, %v after creation", time.Since(start).Round(time.Millisecond))
}
