// Command goguest is a standard-Go WASI program for the wasmrewrite tests:
// the Go toolchain's wasm output (goroutines, its resumable stack switching,
// bulk memory, sign extension, saturating conversions) must instrument and
// run the same. With the argument "spin" it loops forever instead.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

var (
	spins uint64
	big   = 1e20
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "spin" {
		for {
			spins++
		}
	}
	words := strings.Fields(strings.Repeat("the quick brown fox jumps over the lazy dog ", 50))
	counts := map[string]int{}
	for _, w := range words {
		counts[w]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var wg sync.WaitGroup
	sums := make([][32]byte, 8)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i] = sha256.Sum256([]byte(fmt.Sprint(i, keys)))
		}()
	}
	wg.Wait()
	out, err := json.Marshal(map[string]any{"keys": keys, "counts": counts, "sum": fmt.Sprintf("%x", sums[7][:4])})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out), int32(big), int8(int32(len(words))))
}
