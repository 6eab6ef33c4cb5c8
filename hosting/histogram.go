package hosting

import (
	"strconv"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds of a latencyHistogram's buckets, as
// the exposition format's le labels (seconds), the last +Inf.
var latencyBuckets = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, time.Second,
}

// latencyHistogram counts durations into latencyBuckets, lock-free: a
// Prometheus histogram without the client library (the rest of
// WriteMetrics is written by hand too).
type latencyHistogram struct {
	counts   [len(latencyBuckets) + 1]atomic.Int64 // the last: over a second
	sumNanos atomic.Int64
}

func (h *latencyHistogram) observe(d time.Duration) {
	i := 0
	for i < len(latencyBuckets) && d > latencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNanos.Add(int64(d))
}

// count is the number of observations.
func (h *latencyHistogram) count() int64 {
	var n int64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// since observes the time since start: defer h.since(time.Now()).
func (h *latencyHistogram) since(start time.Time) { h.observe(time.Since(start)) }

// appendTo appends the histogram's series (cumulative buckets, sum,
// count) under name, with no labels but le.
func (h *latencyHistogram) appendTo(b []byte, name string) []byte {
	var cum int64
	for i := range h.counts {
		cum += h.counts[i].Load()
		b = append(b, name...)
		b = append(b, `_bucket{le="`...)
		if i < len(latencyBuckets) {
			b = strconv.AppendFloat(b, latencyBuckets[i].Seconds(), 'g', -1, 64)
		} else {
			b = append(b, "+Inf"...)
		}
		b = append(b, `"} `...)
		b = strconv.AppendInt(b, cum, 10)
		b = append(b, '\n')
	}
	b = append(b, name...)
	b = append(b, "_sum "...)
	b = strconv.AppendFloat(b, time.Duration(h.sumNanos.Load()).Seconds(), 'g', -1, 64)
	b = append(b, '\n')
	b = append(b, name...)
	b = append(b, "_count "...)
	b = strconv.AppendInt(b, cum, 10)
	return append(b, '\n')
}
