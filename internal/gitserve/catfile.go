package gitserve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// catFile reads objects through one git cat-file --batch process: one
// request line in, "<oid> <type> <size>\n<content>\n" out, so a push reads
// thousands of blobs without a process each, streaming each one.
type catFile struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *tailBuffer
}

func (s *Server) newCatFile(ctx context.Context, env []string, dir string) (*catFile, error) {
	cmd := s.command(ctx, env, nil, "--git-dir="+dir, "cat-file", "--batch")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &catFile{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 64<<10), stderr: &tailBuffer{}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("gitserve: cat-file: %w", err)
	}
	return c, nil
}

func (c *catFile) close() {
	c.in.Close()
	_ = c.cmd.Wait()
}

// blob streams blob oid to fn, which must not keep the reader; whatever
// fn leaves unread is skipped.
func (c *catFile) blob(oid string, fn func(r io.Reader, size int64) error) error {
	if _, err := io.WriteString(c.in, oid+"\n"); err != nil {
		return fmt.Errorf("gitserve: cat-file: %w: %s", err, c.stderr.String())
	}
	header, err := c.out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("gitserve: cat-file: %w: %s", err, c.stderr.String())
	}
	f := strings.Fields(header)
	if len(f) != 3 || f[1] != "blob" {
		return fmt.Errorf("gitserve: cat-file: object %s: %q", oid, strings.TrimSpace(header))
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return fmt.Errorf("gitserve: cat-file: object %s: %q", oid, header)
	}
	lr := &io.LimitedReader{R: c.out, N: size}
	ferr := fn(lr, size)
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return fmt.Errorf("gitserve: cat-file: %w", err)
	}
	if b, err := c.out.ReadByte(); err != nil || b != '\n' {
		return fmt.Errorf("gitserve: cat-file: object %s: missing terminator", oid)
	}
	return ferr
}

// small reads a blob of at most max bytes (name is for the error).
func (c *catFile) small(oid string, max int64, name string) ([]byte, error) {
	var data []byte
	err := c.blob(oid, func(r io.Reader, size int64) error {
		if size > max {
			return refusef("%s is %d bytes, more than the limit of %d", name, size, max)
		}
		var err error
		data, err = io.ReadAll(r)
		return err
	})
	return data, err
}
