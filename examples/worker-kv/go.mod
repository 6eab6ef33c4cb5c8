module github.com/pierhq/pier/examples/worker-kv

go 1.26.8

require github.com/pierhq/pier/sdk/go/pier v0.0.0

replace github.com/pierhq/pier/sdk/go/pier => ../../sdk/go/pier
