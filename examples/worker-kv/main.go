//go:build wasip1

package main

import "github.com/pierhq/pier/sdk/go/pier"

func init() {
	// main is not run in a c-shared build: register from init.
	pier.Handle(newHandler(pier.KV("STORE")))
}

func main() {}
