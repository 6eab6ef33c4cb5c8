//go:build !wasip1

package pier

// theHost is nil outside the Pier host: see the package notes.
var theHost abi
