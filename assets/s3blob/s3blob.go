// Package s3blob is the S3-compatible blob backend (AWS S3, MinIO, Ceph
// RGW, Cloudflare R2…) built on aws-sdk-go-v2. It implements
// assets.Backend, passes blobtest.Run against a real MinIO, and translates
// SDK errors to assets.ErrNotFound and assets.ErrUnavailable where they
// come in. Imported by cmd/pier (wiring) and tests; other packages use the
// assets.Backend interface.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pierhq/pier/assets"
)

// Part sizes. S3 requires every part but the last to be at least
// MinPartSize, allows at most MaxPartSize per part and maxParts parts.
const (
	DefaultPartSize = 16 << 20
	MinPartSize     = 5 << 20
	MaxPartSize     = 5 << 30
	maxParts        = 10_000
	DefaultRegion   = "us-east-1"
)

// abortTimeout bounds the clean-up of a failed multipart upload, which runs
// even when the Put's context was canceled.
const abortTimeout = 30 * time.Second

// Config configures a Store. Zero fields take the documented defaults.
// cmd/pier fills it from flags and environment; this package reads
// neither.
type Config struct {
	// Endpoint is the service's base URL, e.g. "http://127.0.0.1:9000" for
	// MinIO or "https://<account>.r2.cloudflarestorage.com". Empty means
	// AWS's endpoint for Region.
	Endpoint string
	// Bucket holds the blobs. Required.
	Bucket string
	// Region signs requests; default DefaultRegion.
	Region string
	// Static credentials. When AccessKeyID is empty the SDK's default
	// chain is used (environment, shared config, web identity, instance
	// role…).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Prefix is prepended verbatim to every key (e.g. "pier/").
	Prefix string
	// PathStyle addresses the bucket as <endpoint>/<bucket> instead of
	// <bucket>.<endpoint>; MinIO and most self-hosted servers need it.
	PathStyle bool
	// PartSize is the largest blob sent in one PutObject and the part size
	// of larger, multipart uploads; default DefaultPartSize, at least
	// MinPartSize. A Put buffers up to one part in memory.
	PartSize int64
	// MaxAttempts is the number of tries of each request (the SDK retries
	// throttling, 5xx and network errors with backoff); 0 means the SDK's
	// default (3).
	MaxAttempts int
	// HTTPClient sends the requests; nil means the SDK's client with up
	// to 100 idle connections to the endpoint.
	HTTPClient *http.Client
}

// Store is an assets.Backend on an S3 bucket, safe for concurrent use.
type Store struct {
	client   *s3.Client
	bucket   string
	prefix   string
	region   string
	partSize int64
	parts    sync.Pool // *[]byte of partSize capacity, for multipart uploads
}

// New returns a Store for cfg. It does not contact the service; see
// EnsureBucket.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3blob: bucket is required")
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	switch {
	case cfg.PartSize == 0:
		cfg.PartSize = DefaultPartSize
	case cfg.PartSize < MinPartSize || cfg.PartSize > MaxPartSize:
		return nil, fmt.Errorf("s3blob: part size %d outside [%d, %d]", cfg.PartSize, MinPartSize, MaxPartSize)
	}
	if cfg.AccessKeyID != "" && cfg.SecretAccessKey == "" {
		return nil, errors.New("s3blob: access key ID given without a secret access key")
	}

	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	} else {
		opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns = 200
			t.MaxIdleConnsPerHost = 100
		})))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3blob: loading AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{
		client:   client,
		bucket:   cfg.Bucket,
		prefix:   cfg.Prefix,
		region:   cfg.Region,
		partSize: cfg.PartSize,
	}, nil
}

// Bucket returns the bucket the store writes to.
func (s *Store) Bucket() string { return s.bucket }

func (s *Store) objectKey(key string) string { return s.prefix + key }

// EnsureBucket creates the bucket unless it exists and is ours.
func (s *Store) EnsureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return s.mapErr(ctx, "checking bucket", s.bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}
	if s.region != DefaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(s.region),
		}
	}
	_, err = s.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) && errorCode(err) != "BucketAlreadyOwnedByYou" {
		return s.mapErr(ctx, "creating bucket", s.bucket, err)
	}
	return nil
}

// Get opens the blob. Errors while reading the body are wrapped with
// assets.ErrUnavailable (the connection failed mid-stream).
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3blob: get %q: %w", key, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil {
		return nil, s.mapErr(ctx, "get", key, err)
	}
	return &body{rc: out.Body, key: key, ctx: ctx, size: aws.ToInt64(out.ContentLength)}, nil
}

// body is a GetObject response body.
type body struct {
	rc   io.ReadCloser
	key  string
	ctx  context.Context
	size int64
}

// Size reports the blob's size (assets.Cache uses it to size its buffer).
func (b *body) Size() int64 { return b.size }

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		if cerr := b.ctx.Err(); cerr != nil {
			return n, fmt.Errorf("s3blob: reading %q: %w", b.key, cerr)
		}
		return n, fmt.Errorf("s3blob: reading %q: %w: %w", b.key, assets.ErrUnavailable, err)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// Size returns the blob's size. S3 answers a HEAD without a body, so a
// missing bucket reads as assets.ErrNotFound here (Get reports it as
// assets.ErrUnavailable).
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("s3blob: size %q: %w", key, err)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil {
		return 0, s.mapErr(ctx, "size", key, err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Delete removes the blob; an absent blob is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: delete %q: %w", key, err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.objectKey(key)),
	})
	if err != nil && !isNotFound(err) {
		return s.mapErr(ctx, "delete", key, err)
	}
	return nil
}

// ErrSizeMismatch is wrapped by a Put whose reader did not hold exactly
// the announced number of bytes.
var ErrSizeMismatch = errors.New("s3blob: reader length differs from size")

// Put stores exactly size bytes from r: one PutObject up to the part size,
// else a multipart upload that is aborted on any failure. S3 makes an
// object visible only when its upload completes, so a failed Put leaves
// no blob and a previous blob under key is untouched. Each request body is
// buffered (at most one part) so the SDK can sign and retry it.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if size < 0 {
		return fmt.Errorf("s3blob: put %q: negative size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: put %q: %w", key, err)
	}
	if size <= s.partSize {
		buf := make([]byte, size)
		if err := readExact(r, buf, true); err != nil {
			return fmt.Errorf("s3blob: put %q: %w", key, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("s3blob: put %q: %w", key, err)
		}
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(s.objectKey(key)),
			Body:          bytes.NewReader(buf),
			ContentLength: aws.Int64(size),
		})
		if err != nil {
			return s.mapErr(ctx, "put", key, err)
		}
		return nil
	}
	return s.putMultipart(ctx, key, r, size)
}

func (s *Store) putMultipart(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	partSize := s.partSizeFor(size)
	objKey := aws.String(s.objectKey(key))
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket),
		Key:    objKey,
	})
	if err != nil {
		return s.mapErr(ctx, "put (create multipart upload)", key, err)
	}
	uploadID := created.UploadId
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(s.bucket),
			Key:      objKey,
			UploadId: uploadID,
		})
		if aerr != nil && !isNotFound(aerr) {
			// The bucket's lifecycle rule (AbortIncompleteMultipartUpload)
			// is the backstop; the upload was never visible.
			err = fmt.Errorf("%w (aborting the multipart upload also failed: %v)", err, aerr)
		}
	}()

	buf := s.partBuffer(partSize)
	defer s.parts.Put(buf)
	var completed []types.CompletedPart
	for off, num := int64(0), int32(1); off < size; off, num = off+partSize, num+1 {
		n := min(partSize, size-off)
		part := (*buf)[:n]
		if err := readExact(r, part, off+n == size); err != nil {
			return fmt.Errorf("s3blob: put %q: %w", key, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("s3blob: put %q: %w", key, err)
		}
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        aws.String(s.bucket),
			Key:           objKey,
			UploadId:      uploadID,
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(part),
			ContentLength: aws.Int64(n),
		})
		if err != nil {
			return s.mapErr(ctx, fmt.Sprintf("put (part %d)", num), key, err)
		}
		completed = append(completed, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             objKey,
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return s.mapErr(ctx, "put (complete multipart upload)", key, err)
	}
	return nil
}

// partSizeFor returns the part size for a blob of size bytes: the
// configured one, grown when the blob would otherwise need more than
// S3's 10,000 parts.
func (s *Store) partSizeFor(size int64) int64 {
	if n := (size + s.partSize - 1) / s.partSize; n > maxParts {
		return (size + maxParts - 1) / maxParts
	}
	return s.partSize
}

// partBuffer returns a pooled buffer of at least n bytes.
func (s *Store) partBuffer(n int64) *[]byte {
	if p, ok := s.parts.Get().(*[]byte); ok && int64(cap(*p)) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}

// readExact fills buf from r; when last, it also checks that r holds
// nothing more.
func readExact(r io.Reader, buf []byte, last bool) error {
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: reader ended %d bytes early", ErrSizeMismatch, len(buf)-n)
	case err != nil:
		return fmt.Errorf("reading: %w", err)
	}
	if !last {
		return nil
	}
	var one [1]byte
	for range 100 {
		m, err := r.Read(one[:])
		if m > 0 {
			return fmt.Errorf("%w: reader holds more bytes than announced", ErrSizeMismatch)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
	}
	return io.ErrNoProgress
}

// transientCode reports whether an S3-compatible service answers code for
// a transient condition.
func transientCode(code string) bool {
	switch code {
	case "SlowDown", "Throttling", "ThrottlingException", "RequestThrottled",
		"RequestLimitExceeded", "TooManyRequestsException", "RequestTimeout",
		"ServiceUnavailable", "InternalError", "XMinioServerNotInitialized":
		return true
	}
	return false
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func statusCode(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isNotFound(err error) bool {
	switch errorCode(err) {
	case "NoSuchKey", "NotFound", "NoSuchUpload":
		return true
	case "NoSuchBucket":
		return false
	}
	return statusCode(err) == http.StatusNotFound
}

// mapErr translates an SDK error into the portable errors of assets:
// a canceled context stays a context error; a missing object is
// assets.ErrNotFound; a missing bucket, throttling, 5xx and network
// failures are assets.ErrUnavailable; anything else (access denied, bad
// request) is returned wrapped as is.
func (s *Store) mapErr(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("s3blob: %s %q: %w", op, key, cerr)
	}
	code, status := errorCode(err), statusCode(err)
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("s3blob: %s %q: bucket %q does not exist: %w: %w", op, key, s.bucket, assets.ErrUnavailable, err)
	case isNotFound(err):
		return fmt.Errorf("s3blob: %s %q: %w", op, key, assets.ErrNotFound)
	case transientCode(code), status >= 500, status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return fmt.Errorf("s3blob: %s %q: %w: %w", op, key, assets.ErrUnavailable, err)
	case status != 0:
		return fmt.Errorf("s3blob: %s %q: %w", op, key, err)
	}
	var sendErr *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &sendErr) || errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("s3blob: %s %q: %w: %w", op, key, assets.ErrUnavailable, err)
	}
	return fmt.Errorf("s3blob: %s %q: %w", op, key, err)
}

var _ assets.Backend = (*Store)(nil)
