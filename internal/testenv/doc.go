// Package testenv starts the real servers Pier's tests run against — a
// MinIO S3 server, a throwaway PostgreSQL cluster — on free loopback ports
// with temporary data directories, and stops them when the test ends.
// WaitFor lets tests wait for a condition under a deadline generous
// enough for a busy machine (Patience) instead of sleeping or timing.
//
// A server whose binary cannot be found makes the test skip, unless the
// environment sets PIER_TEST_REQUIRE_SERVERS=1 (as `make test` does), in
// which case the test fails. testenv imports no Pier package; it is
// imported only by tests.
package testenv
