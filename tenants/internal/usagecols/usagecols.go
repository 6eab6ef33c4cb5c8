// Package usagecols is what both stores write and read of a usage row:
// the counter columns of usage_minutes and usage_hours and their order.
// Only tenants/sqlitestore and tenants/pgstore import it.
package usagecols

import (
	"strings"

	"github.com/pierhq/pier/tenants"
)

// Cols are the counter columns of usage_minutes and usage_hours, in
// the order of Values.
var Cols = []string{
	"r1xx", "r2xx", "r3xx", "r4xx", "r5xx", "bytes_out",
	"inv_ok", "inv_exception", "inv_exceeded_cpu", "inv_exceeded_subrequests", "inv_exceeded_memory",
	"inv_response_too_large", "inv_request_too_large", "inv_canceled", "inv_exceeded_kv_ops", "inv_other",
	"cpu_us", "subrequests", "kv_reads", "kv_writes", "kv_bytes",
}

// Values appends c's counters in Cols order.
func Values(args []any, c *tenants.UsageCounters) []any {
	for _, n := range c.Requests {
		args = append(args, n)
	}
	args = append(args, c.BytesOut)
	for _, n := range c.Invocations {
		args = append(args, n)
	}
	return append(args, c.CPU.Microseconds(), c.SubRequests, c.KVReads, c.KVWrites, c.KVBytes)
}

// Dest appends pointers to c's counters in Cols order; the CPU
// column is scanned into *cpu (microseconds).
func Dest(dest []any, c *tenants.UsageCounters, cpu *int64) []any {
	for i := range c.Requests {
		dest = append(dest, &c.Requests[i])
	}
	dest = append(dest, &c.BytesOut)
	for i := range c.Invocations {
		dest = append(dest, &c.Invocations[i])
	}
	return append(dest, cpu, &c.SubRequests, &c.KVReads, &c.KVWrites, &c.KVBytes)
}

// List joins format for every column, "%c" standing for its name.
func List(format string) string {
	parts := make([]string, len(Cols))
	for i, c := range Cols {
		parts[i] = strings.ReplaceAll(format, "%c", c)
	}
	return strings.Join(parts, ", ")
}
