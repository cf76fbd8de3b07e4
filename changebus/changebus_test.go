package changebus

import "testing"

func TestPublishReachesSubscribers(t *testing.T) {
	b := New()
	b.Publish(1, 2, 3) // no subscriber: dropped
	var got [][3]int64
	b.Subscribe(func(a, m, s int64) { got = append(got, [3]int64{a, m, s}) })
	b.Subscribe(func(a, m, s int64) { got = append(got, [3]int64{-a, -m, -s}) })
	b.Publish(4, 5, 6)
	if len(got) != 2 || got[0] != [3]int64{4, 5, 6} || got[1] != [3]int64{-4, -5, -6} {
		t.Fatalf("got %v", got)
	}
}
