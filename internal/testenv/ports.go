package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// A port for a server that a test starts is chosen before the server binds
// it, so another process may take it in between. A port the kernel hands
// out for port 0 is in its ephemeral range, where any outgoing connection
// of any process (another test package, a client's pool, the server's own
// connections at start-up) may get it; below that range only a bind by
// number can. So ports are drawn below the range where there is room.

// keptLow is the lowest port drawn from.
const keptLow = 10000

// ephemeralStart is where the kernel's ephemeral range starts
// (net.ipv4.ip_local_port_range; Linux's default when it cannot be read).
func ephemeralStart() int {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}

// listenKept listens on a free loopback port below the ephemeral range, or
// on one the kernel picks when there is no room below it or none was free
// in a hundred draws.
func listenKept() (net.Listener, error) {
	if high := ephemeralStart(); high > keptLow+1000 {
		for range 100 {
			port := keptLow + rand.IntN(high-keptLow)
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				return l, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	return l, nil
}

// KeptPort returns a loopback TCP port that was free a moment ago, for a
// server that must listen on a port chosen in advance (one that other
// processes are told to connect to). When a server can report the port it
// bound, listening on port 0 is better still.
func KeptPort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := listenKept()
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
