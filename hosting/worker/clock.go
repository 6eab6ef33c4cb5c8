package worker

import "time"

// monoEpoch anchors mono, a second in the past so that mono is never 0
// (a zero reading means "never" where a field keeps one).
var monoEpoch = time.Now().Add(-time.Second)

// mono reads the monotonic clock, as the time since monoEpoch. It is the
// clock of every per-request reading in this package (the CPU meter, the
// tenants' CPU rate, the pool's idle times): one vDSO call, where
// time.Now also reads the wall clock (about 30 against 60 ns on the VM of
// docs/workers.md §5; go test -bench Clock), and immune to steps of the
// wall clock, which must neither grant nor withhold CPU time.
func mono() time.Duration { return time.Since(monoEpoch) }
