//go:build wasip1

// Command goguest is a standard-Go http-wasm reactor used by the worker
// tests and benchmarks (built with -buildmode=c-shared at test time): it
// answers with a JSON document, so it links encoding/json and is about as
// large as a real Go worker.
package main

import (
	"encoding/json"
	"unsafe"
)

//go:wasmimport http_handler write_body
func writeBody(kind uint32, ptr unsafe.Pointer, n uint32)

//go:wasmimport http_handler set_header_value
func setHeaderValue(kind uint32, name unsafe.Pointer, nameLen uint32, value unsafe.Pointer, valueLen uint32)

//go:wasmimport http_handler get_uri
func getURI(buf unsafe.Pointer, limit uint32) uint32

var requests int

//go:wasmexport handle_request
func handleRequest() uint64 {
	requests++
	buf := make([]byte, 1024)
	n := getURI(unsafe.Pointer(&buf[0]), uint32(len(buf)))
	body, _ := json.Marshal(map[string]any{"uri": string(buf[:min(int(n), len(buf))]), "requests": requests})
	name, value := []byte("Content-Type"), []byte("application/json")
	setHeaderValue(1, unsafe.Pointer(&name[0]), uint32(len(name)), unsafe.Pointer(&value[0]), uint32(len(value)))
	writeBody(1, unsafe.Pointer(&body[0]), uint32(len(body)))
	return 0
}

func main() {}
