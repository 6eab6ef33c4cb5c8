package s3blob

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/testenv"
)

func TestPartSizeFor(t *testing.T) {
	t.Parallel()
	s := &Store{partSize: MinPartSize}
	tests := []struct {
		name string
		size int64
		want int64
	}{
		{"one part", 1, MinPartSize},
		{"exactly max parts", MinPartSize * maxParts, MinPartSize},
		{"one byte over max parts", MinPartSize*maxParts + 1, MinPartSize + 1},
		{"5 TiB", 5 << 40, (5<<40 + maxParts - 1) / maxParts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := s.partSizeFor(tc.size)
			if got != tc.want {
				t.Errorf("partSizeFor(%d) = %d, want %d", tc.size, got, tc.want)
			}
			if parts := (tc.size + got - 1) / got; parts > maxParts {
				t.Errorf("%d parts, more than %d", parts, maxParts)
			}
		})
	}
}

// failAfter yields n bytes of r and then fails.
type failAfter struct {
	r io.Reader
	n int
}

var errBroken = errors.New("broken reader")

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBroken
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// A failed multipart Put aborts its upload, so no parts linger (and cost
// storage) in the bucket.
func TestFailedMultipartPutAborts(t *testing.T) {
	m := testenv.StartMinIO(t)
	s, err := New(t.Context(), Config{
		Endpoint: m.Endpoint, Bucket: "abort-test", Region: m.Region,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey,
		PathStyle: true, PartSize: MinPartSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3*MinPartSize)
	rand.Read(data)
	key := assets.Key("tenant1", "0123456789abcdef", "")
	err = s.Put(t.Context(), key, &failAfter{r: bytes.NewReader(data), n: 2*MinPartSize + 10}, int64(len(data)))
	if !errors.Is(err, errBroken) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	out, err := s.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after a failed Put", len(out.Uploads))
	}
}
