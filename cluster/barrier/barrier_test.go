package barrier

import (
	"context"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	b := New()
	ctx := context.Background()
	if !b.Wait(ctx, 10, time.Minute) {
		t.Fatal("no loop recorded: nothing to wait for")
	}
	b.Applied("mesh", 5)
	b.Applied("dns", 12)
	if b.Wait(ctx, 10, 20*time.Millisecond) {
		t.Fatal("mesh is at 5: the wait for 10 returned true")
	}
	done := make(chan bool)
	go func() { done <- b.Wait(ctx, 10, time.Minute) }()
	b.Applied("mesh", 8)
	select {
	case <-done:
		t.Fatal("returned with mesh at 8")
	case <-time.After(20 * time.Millisecond):
	}
	b.Applied("mesh", 11)
	if !<-done {
		t.Fatal("mesh reached 11: want true")
	}
	b.Applied("mesh", 3) // never backwards
	b.Applied("vip", 1)
	b.Done("vip")
	if !b.Wait(ctx, 11, 20*time.Millisecond) {
		t.Fatal("a stopped loop held the wait back, or a record went backwards")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if b.Wait(cctx, 100, time.Minute) {
		t.Fatal("a cancelled wait reported success")
	}
}
