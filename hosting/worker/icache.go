package worker

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
)

// instrumentCache keeps instrumented modules on disk beside wazero's
// compilation cache, so that a restart neither rewrites a module again
// (11–22 ms for a standard-Go guest) nor, since the rewrite is
// deterministic, misses wazero's cache. An entry is named by the sha256 of
// the module as deployed and holds the sha256 of the instrumented bytes
// (the key under which they are compiled), their CRC-32C and the bytes: a
// truncated or corrupt entry fails the CRC and is rebuilt. (A CRC, not the
// sha256 again: hashing a standard-Go guest costs milliseconds; the
// directory is the platform's own, not writable by tenants.) Entries live in a directory named after the running
// executable, so a new build of Pier (possibly another rewrite) starts an
// empty one; the directories of other builds are removed when the cache is
// opened. The zero value is a disabled cache.
type instrumentCache struct {
	dir string
}

// instrumentCacheFormat names the rewrite options and entry format; the
// executable's identity is added to it.
const instrumentCacheFormat = "pier-instrumented-v3"

func openInstrumentCache(cacheDir string) (instrumentCache, error) {
	root := filepath.Join(cacheDir, "pier-instrumented")
	build := buildID()
	dir := filepath.Join(root, build)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return instrumentCache{}, fmt.Errorf("worker: opening the instrumentation cache: %w", err)
	}
	if entries, err := os.ReadDir(root); err == nil {
		for _, e := range entries {
			if e.Name() != build {
				_ = os.RemoveAll(filepath.Join(root, e.Name()))
			}
		}
	}
	return instrumentCache{dir: dir}, nil
}

// buildID identifies the running executable: its path, size and
// modification time, and its build information.
func buildID() string {
	h := sha256.New()
	h.Write([]byte(instrumentCacheFormat + "\x00" + strconv.Itoa(maxMemoryPages) + "\x00"))
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", exe, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		h.Write([]byte(bi.String()))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// entryHeader is the size of an entry's sha256 and CRC.
const entryHeader = sha256.Size + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (c instrumentCache) path(input [sha256.Size]byte) string {
	return filepath.Join(c.dir, hex.EncodeToString(input[:])+".wasm")
}

// get returns the instrumented bytes of the module whose sha256 is input
// and their own sha256, if a sound entry exists.
func (c instrumentCache) get(input [sha256.Size]byte) ([]byte, [sha256.Size]byte, bool) {
	if c.dir == "" {
		return nil, [sha256.Size]byte{}, false
	}
	b, err := os.ReadFile(c.path(input))
	if err != nil || len(b) <= entryHeader {
		return nil, [sha256.Size]byte{}, false
	}
	bin := b[entryHeader:]
	if crc32.Checksum(bin, castagnoli) != binary.LittleEndian.Uint32(b[sha256.Size:]) {
		return nil, [sha256.Size]byte{}, false
	}
	return bin, [sha256.Size]byte(b[:sha256.Size]), true
}

// put stores an entry atomically: readers see the old entry or the whole
// new one.
func (c instrumentCache) put(input, key [sha256.Size]byte, bin []byte) error {
	if c.dir == "" {
		return nil
	}
	f, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return err
	}
	hdr := binary.LittleEndian.AppendUint32(key[:], crc32.Checksum(bin, castagnoli))
	_, err = f.Write(hdr)
	if err == nil {
		_, err = f.Write(bin)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.path(input))
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
