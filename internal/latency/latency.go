// Package latency summarises request latencies for the load generator and
// the benchmarks, so both report percentiles by the same definition.
package latency

import (
	"math"
	"time"
)

// Percentile returns the nearest-rank p-th percentile of sorted (ascending):
// the smallest value with at least p% of the values at or below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
