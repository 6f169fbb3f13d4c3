package expect_test

import (
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/expect"
)

func TestCreationsAndDeletions(t *testing.T) {
	e := expect.New(0, nil)
	if !e.Satisfied("ns/rs") {
		t.Fatal("unknown key not satisfied")
	}
	e.ExpectCreations("ns/rs", 2)
	e.ExpectDeletions("ns/rs", []types.UID{"u1"})
	for i, step := range []func(){
		func() { e.CreationObserved("ns/rs") },
		func() { e.DeletionObserved("ns/rs", "u1") },
		func() { e.DeletionObserved("ns/rs", "u1") }, // seen twice (terminating, then gone): counted once
		func() { e.CreationObserved("other") },       // another key
	} {
		step()
		if e.Satisfied("ns/rs") {
			t.Fatalf("satisfied after step %d", i)
		}
	}
	e.CreationObserved("ns/rs")
	if !e.Satisfied("ns/rs") {
		adds, dels := e.Pending("ns/rs")
		t.Fatalf("not satisfied: %d adds, %d dels pending", adds, dels)
	}
	e.CreationObserved("ns/rs") // an extra observation does not go negative
	e.ExpectCreations("ns/rs", 1)
	if e.Satisfied("ns/rs") {
		t.Fatal("a new round is satisfied at once")
	}
	e.Forget("ns/rs")
	if !e.Satisfied("ns/rs") {
		t.Fatal("forgotten key not satisfied")
	}
}

func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := expect.New(time.Minute, nil)
		e.ExpectCreations("k", 3)
		time.Sleep(time.Minute)
		if e.Satisfied("k") {
			t.Fatal("satisfied at the TTL")
		}
		time.Sleep(time.Second)
		if !e.Satisfied("k") {
			t.Fatal("not satisfied after the TTL")
		}
	})
}
