package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// allScenarios are the scenario groups of the s3 command, in the order they
// run: ttfb reads objects the large and small groups wrote.
var allScenarios = []string{"large", "small", "ttfb", "list", "multipart"}

// s3Config is what the s3 command measures, from its flags.
type s3Config struct {
	endpoint, region     string
	accessKey, secretKey string
	bucket, target       string
	prefix               string // of every key
	pid                  int
	jsonPath             string
	scenarios            map[string]bool
	payload              string // unsigned or signed
	timeout              time.Duration

	largeSizes      []int64
	largeIterations int
	largeVolume     int64

	smallSize        int64
	smallConcurrency int
	smallCount       int64
	smallDuration    time.Duration

	ttfbSamples      int
	ttfbLargeSamples int

	listKeys        int64
	listConcurrency int
	listPage        int
	listWalks       int
	listCreateMax   time.Duration

	multipartSize       int64
	partSize            int64
	partConcurrency     int
	multipartIterations int
}

// quickS3 is the -quick preset: every scenario, sized for a CI smoke run
// (well under 30 s against a local server).
var quickS3 = map[string]string{
	"large-sizes":          "8MiB,32MiB",
	"large-volume":         "64MiB",
	"large-iterations":     "2",
	"small-duration":       "2s",
	"ttfb-samples":         "50",
	"ttfb-large-samples":   "5",
	"list-keys":            "2000",
	"list-concurrency":     "32",
	"list-walks":           "2",
	"list-create-max":      "20s",
	"multipart-size":       "32MiB",
	"part-size":            "8MiB",
	"multipart-iterations": "1",
}

type s3Cmd struct {
	stdout, stderr io.Writer
}

func (c *s3Cmd) parse(args []string) (*s3Config, error) {
	cfg := &s3Config{}
	fl := flag.NewFlagSet("s3", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	fl.StringVar(&cfg.endpoint, "endpoint", os.Getenv("AWS_ENDPOINT_URL"), "S3 endpoint, e.g. http://127.0.0.1:9000 (default $AWS_ENDPOINT_URL)")
	fl.StringVar(&cfg.region, "region", "us-east-1", "region to sign for")
	fl.StringVar(&cfg.accessKey, "access-key", os.Getenv("AWS_ACCESS_KEY_ID"), "access key ID (default $AWS_ACCESS_KEY_ID)")
	fl.StringVar(&cfg.secretKey, "secret-key", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret access key (default $AWS_SECRET_ACCESS_KEY)")
	fl.StringVar(&cfg.bucket, "bucket", "bench", "bucket to use; created when missing")
	fl.StringVar(&cfg.prefix, "prefix", "", "prefix of every key written and read, e.g. r2/ for a second round on the same bucket")
	fl.StringVar(&cfg.target, "target", "s3", "name of what is measured, in the results (coffre, versitygw...)")
	fl.IntVar(&cfg.pid, "pid", 0, "process ID of the server, on this machine: CPU time and peak RSS per scenario from /proc (0: none)")
	fl.StringVar(&cfg.jsonPath, "json", "", "append one JSON line per scenario to this file")
	scen := fl.String("scenarios", strings.Join(allScenarios, ","), "comma-separated scenario groups to run: "+strings.Join(allScenarios, ", "))
	fl.StringVar(&cfg.payload, "payload", "unsigned", "request bodies: unsigned (UNSIGNED-PAYLOAD, read once) or signed (SHA-256 in the signature: the SDK reads each body twice)")
	fl.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	quick := fl.Bool("quick", false, "small sizes and counts for a smoke run (flags given explicitly win)")

	largeSizes := fl.String("large-sizes", "64MiB,1GiB", "sizes of the large-object PUT/GET scenarios")
	fl.IntVar(&cfg.largeIterations, "large-iterations", 3, "minimum number of objects of each large size")
	largeVolume := fl.String("large-volume", "1GiB", "bytes to send per large size: max(large-iterations, large-volume/size) objects")

	smallSize := fl.String("small-size", "4KiB", "size of the small objects")
	fl.IntVar(&cfg.smallConcurrency, "small-concurrency", 8, "concurrent clients of the small-object scenarios")
	fl.Int64Var(&cfg.smallCount, "small-count", 0, "stop each small-object phase after this many requests (0: only -small-duration)")
	fl.DurationVar(&cfg.smallDuration, "small-duration", 10*time.Second, "stop each small-object phase after this long (0: only -small-count)")

	fl.IntVar(&cfg.ttfbSamples, "ttfb-samples", 200, "sequential GETs of small objects timed to their first byte")
	fl.IntVar(&cfg.ttfbLargeSamples, "ttfb-large-samples", 20, "sequential GETs of each large size timed to their first byte (the rest is not read)")

	fl.Int64Var(&cfg.listKeys, "list-keys", 100_000, "empty objects created for the listing scenario")
	fl.IntVar(&cfg.listConcurrency, "list-concurrency", 64, "concurrent clients creating them")
	fl.IntVar(&cfg.listPage, "list-page", 1000, "keys per ListObjectsV2 page (MaxKeys)")
	fl.IntVar(&cfg.listWalks, "list-walks", 3, "full listings timed")
	fl.DurationVar(&cfg.listCreateMax, "list-create-max", 5*time.Minute, "stop creating keys after this long; the walk then lists those created")

	multipartSize := fl.String("multipart-size", "256MiB", "size of each multipart upload")
	partSize := fl.String("part-size", "16MiB", "size of its parts (the last may be shorter)")
	fl.IntVar(&cfg.partConcurrency, "part-concurrency", 4, "parts uploaded in parallel")
	fl.IntVar(&cfg.multipartIterations, "multipart-iterations", 2, "multipart uploads timed")

	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fl.Arg(0))
	}
	if *quick {
		if err := applyPreset(fl, quickS3); err != nil {
			return nil, err
		}
	}
	if cfg.endpoint == "" {
		return nil, fmt.Errorf("%w: -endpoint is required (or AWS_ENDPOINT_URL)", errUsage)
	}
	if cfg.accessKey == "" || cfg.secretKey == "" {
		return nil, fmt.Errorf("%w: credentials are required: -access-key and -secret-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", errUsage)
	}
	if cfg.payload != "unsigned" && cfg.payload != "signed" {
		return nil, fmt.Errorf("%w: -payload %q: want unsigned or signed", errUsage, cfg.payload)
	}
	cfg.scenarios = make(map[string]bool)
	for s := range strings.SplitSeq(*scen, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return nil, fmt.Errorf("%w: unknown scenario %q (want some of %s)", errUsage, s, strings.Join(allScenarios, ", "))
		}
		cfg.scenarios[s] = true
	}
	var err error
	sizes := []struct {
		dst  *int64
		flag string
		val  string
	}{
		{&cfg.largeVolume, "large-volume", *largeVolume},
		{&cfg.smallSize, "small-size", *smallSize},
		{&cfg.multipartSize, "multipart-size", *multipartSize},
		{&cfg.partSize, "part-size", *partSize},
	}
	for _, s := range sizes {
		if *s.dst, err = parseSize(s.val); err != nil {
			return nil, fmt.Errorf("%w: -%s: %v", errUsage, s.flag, err)
		}
	}
	if cfg.largeSizes, err = parseSizes(*largeSizes); err != nil {
		return nil, fmt.Errorf("%w: -large-sizes: %v", errUsage, err)
	}
	switch {
	case cfg.smallCount <= 0 && cfg.smallDuration <= 0:
		return nil, fmt.Errorf("%w: -small-count or -small-duration must bound the small-object phases", errUsage)
	case cfg.smallConcurrency < 1 || cfg.listConcurrency < 1 || cfg.partConcurrency < 1:
		return nil, fmt.Errorf("%w: concurrencies must be at least 1", errUsage)
	case cfg.partSize < 5*mib:
		return nil, fmt.Errorf("%w: -part-size %s: S3 parts but the last are at least 5 MiB", errUsage, sizeName(cfg.partSize))
	case cfg.listPage < 1 || cfg.listPage > 1000:
		return nil, fmt.Errorf("%w: -list-page %d: want 1 to 1000", errUsage, cfg.listPage)
	}
	return cfg, nil
}

func (c *s3Cmd) Run(ctx context.Context, args []string) error {
	cfg, err := c.parse(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	jw, closeJSON, err := openJSON(cfg.jsonPath)
	if err != nil {
		return err
	}
	defer closeJSON()
	b := &bench{
		cfg:     cfg,
		c:       newClient(cfg),
		out:     &emitter{json: jw},
		log:     c.stderr,
		watch:   &procWatch{pid: cfg.pid},
		written: make(map[int64][]string),
	}
	runErr := b.run(ctx)
	if err := b.out.table(c.stdout); err != nil {
		return err
	}
	for _, w := range b.watch.warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	if runErr != nil {
		return runErr
	}
	if n := b.out.failed(); n > 0 {
		return fmt.Errorf("%d scenarios saw errors (see first_error)", n)
	}
	return closeJSON()
}

// newClient returns an SDK client for the endpoint: path-style (127.0.0.1
// has no subdomains), one attempt per request (a failure is counted, not
// retried away), no checksums beyond those the operation requires, and a
// connection pool as large as the largest number of concurrent clients.
func newClient(cfg *s3Config) *s3.Client {
	conns := max(cfg.smallConcurrency, cfg.listConcurrency, cfg.partConcurrency) + 4
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = conns
		t.MaxIdleConnsPerHost = conns
	})
	opts := s3.Options{
		Region:                     cfg.region,
		BaseEndpoint:               aws.String(cfg.endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(cfg.accessKey, cfg.secretKey, ""),
		Retryer:                    aws.NopRetryer{},
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.payload == "unsigned" {
		// The client shares the CPUs with the server: reading each body
		// once, to send it, leaves them to the server.
		opts.APIOptions = append(opts.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
	return s3.New(opts)
}

// bench runs the scenarios of one s3 command against one endpoint.
type bench struct {
	cfg   *s3Config
	c     *s3.Client
	out   *emitter
	log   io.Writer
	watch *procWatch
	// written holds the keys of the objects written so far, by size, for
	// the scenarios that read them again.
	written map[int64][]string
}

func (b *bench) run(ctx context.Context) error {
	if err := b.setup(ctx); err != nil {
		return err
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"large", b.large},
		{"small", b.small},
		{"ttfb", b.ttfb},
		{"list", b.list},
		{"multipart", b.multipart},
	}
	for _, s := range steps {
		if !b.cfg.scenarios[s.name] {
			continue
		}
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("scenario %s: %w", s.name, err)
		}
	}
	return nil
}

// setup creates the bucket and warms the connection pool and the server's
// caches with a few small requests, then records the server's idle RSS.
func (b *bench) setup(ctx context.Context) error {
	_, err := b.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.cfg.bucket)})
	var ae smithy.APIError
	if err != nil && !(errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists")) {
		return fmt.Errorf("CreateBucket %s at %s: %w", b.cfg.bucket, b.cfg.endpoint, err)
	}
	v := newVerifier(64 * kib)
	for i := range 4 {
		key := fmt.Sprintf("%swarmup/%d", b.cfg.prefix, i)
		if err := b.put(ctx, key, 64*kib); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if err := b.get(ctx, v, key, 64*kib); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	if b.cfg.pid != 0 {
		rss, err := procStatus(b.cfg.pid, "VmRSS")
		if err != nil {
			return fmt.Errorf("-pid %d: %w", b.cfg.pid, err)
		}
		return b.emit(Result{Scenario: "idle-rss", Value: float64(rss) / mib, Unit: "MiB", ServerPeakRSS: rss, Note: "server RSS after warm-up"})
	}
	return nil
}

func (b *bench) emit(r Result) error {
	r.Target = b.cfg.target
	if err := b.out.emit(r); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "%s %-16s %10s %-6s (%d ops in %.2f s, %d errors)\n", r.Target, r.Scenario, fmtNum(r.Value), r.Unit, r.Ops, r.Seconds, r.Errors)
	return nil
}

// put writes size bytes of key's stream as key.
func (b *bench) put(ctx context.Context, key string, size int64) error {
	_, err := b.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(b.cfg.bucket),
		Key:           aws.String(key),
		Body:          newStream(seedOf(key), 0, size),
		ContentLength: aws.Int64(size),
	})
	if err != nil {
		return fmt.Errorf("PUT %s (%d bytes): %w", key, size, err)
	}
	return nil
}

// get reads key and checks that it holds size bytes of key's stream.
func (b *bench) get(ctx context.Context, v *verifier, key string, size int64) error {
	out, err := b.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.cfg.bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("GET %s: %w", key, err)
	}
	defer out.Body.Close()
	if n, err := v.check(out.Body, seedOf(key), size); err != nil {
		return fmt.Errorf("GET %s: after %d bytes: %w", key, n, err)
	}
	return nil
}

// tally counts the errors of a scenario and keeps the first.
type tally struct {
	errors int64
	first  error
}

func (t *tally) add(err error) {
	if err == nil {
		return
	}
	t.errors++
	if t.first == nil {
		t.first = err
	}
}

func (t *tally) fill(r *Result) {
	r.Errors = t.errors
	if t.first != nil {
		r.FirstError = t.first.Error()
	}
}

// timed runs f as a scenario: it resets the server's figures, times f,
// and fills the resource figures of the result f returns.
func (b *bench) timed(f func() Result) Result {
	rss := b.watch.start()
	start := time.Now()
	r := f()
	if r.Seconds == 0 {
		r.Seconds = time.Since(start).Seconds()
	}
	b.watch.end(&r)
	r.ServerStartRSS = rss
	return r
}

// large writes, then reads, max(iterations, volume/size) objects of each
// large size, one at a time: the throughput of a single stream.
func (b *bench) large(ctx context.Context) error {
	for _, size := range b.cfg.largeSizes {
		n := max(int64(b.cfg.largeIterations), b.cfg.largeVolume/max(size, 1))
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("%slarge/%s/%03d", b.cfg.prefix, sizeName(size), i)
		}
		var put tally
		r := b.timed(func() Result {
			var ok int64
			for _, key := range keys {
				if ctx.Err() != nil {
					break
				}
				if err := b.put(ctx, key, size); err != nil {
					put.add(err)
					continue
				}
				ok++
			}
			return Result{Ops: ok, Bytes: ok * size}
		})
		put.fill(&r)
		r.Scenario, r.Size, r.Unit, r.Value = "put-"+sizeName(size), size, "MB/s", mbps(r.Bytes, r.Seconds)
		if err := b.emit(r); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.written[size] = append(b.written[size], keys...)

		var get tally
		v := newVerifier(256 * kib)
		r = b.timed(func() Result {
			var ok int64
			for _, key := range keys {
				if ctx.Err() != nil {
					break
				}
				if err := b.get(ctx, v, key, size); err != nil {
					get.add(err)
					continue
				}
				ok++
			}
			return Result{Ops: ok, Bytes: ok * size}
		})
		get.fill(&r)
		r.Scenario, r.Size, r.Unit, r.Value = "get-"+sizeName(size), size, "MB/s", mbps(r.Bytes, r.Seconds)
		r.Note = "every byte checked against the bytes written"
		if err := b.emit(r); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func mbps(bytes int64, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(bytes) / seconds / 1e6
}

func rate(ops int64, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(ops) / seconds
}

// small writes small objects from concurrent clients for -small-duration
// (or -small-count), then reads them back the same way.
func (b *bench) small(ctx context.Context) error {
	size, workers := b.cfg.smallSize, b.cfg.smallConcurrency
	keyOf := func(i int64) string { return fmt.Sprintf("%ssmall/%08d", b.cfg.prefix, i) }
	bufs := make([][]byte, workers)
	for w := range bufs {
		bufs[w] = make([]byte, size)
	}
	var put *poolResult
	r := b.timed(func() Result {
		put = runPool(ctx, workers, b.cfg.smallCount, b.cfg.smallDuration, func(ctx context.Context, w int, i int64) error {
			key := keyOf(i)
			body := bufs[w]
			if _, err := io.ReadFull(newStream(seedOf(key), 0, size), body); err != nil {
				return err
			}
			_, err := b.c.PutObject(ctx, &s3.PutObjectInput{
				Bucket:        aws.String(b.cfg.bucket),
				Key:           aws.String(key),
				Body:          bytes.NewReader(body),
				ContentLength: aws.Int64(size),
			})
			if err != nil {
				return fmt.Errorf("PUT %s: %w", key, err)
			}
			return nil
		})
		return put.result()
	})
	r.Scenario, r.Size, r.Unit, r.Value = "put-"+sizeName(size), size, "ops/s", rate(r.Ops, r.Seconds)
	r.Bytes, r.Workers = r.Ops*size, workers
	if err := b.emit(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	keys := make([]string, 0, len(put.done))
	for _, i := range put.done {
		keys = append(keys, keyOf(i))
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return fmt.Errorf("no small object was written: %v", put.first)
	}
	b.written[size] = append(b.written[size], keys...)

	verifiers := make([]*verifier, workers)
	for w := range verifiers {
		verifiers[w] = newVerifier(int(min(size+1, 256*kib)))
	}
	r = b.timed(func() Result {
		get := runPool(ctx, workers, b.cfg.smallCount, b.cfg.smallDuration, func(ctx context.Context, w int, i int64) error {
			// A stride through the keys, so that consecutive reads do
			// not follow the order of the writes.
			key := keys[(i*7919)%int64(len(keys))]
			return b.get(ctx, verifiers[w], key, size)
		})
		return get.result()
	})
	r.Scenario, r.Size, r.Unit, r.Value = "get-"+sizeName(size), size, "ops/s", rate(r.Ops, r.Seconds)
	r.Bytes, r.Workers = r.Ops*size, workers
	r.Note = "every byte checked against the bytes written"
	if err := b.emit(r); err != nil {
		return err
	}
	return ctx.Err()
}

// ttfb times sequential GETs up to their first byte: of the small objects
// (read whole and checked), then of each large size (the rest of the body is
// not read: the connection is closed).
func (b *bench) ttfb(ctx context.Context) error {
	type spec struct {
		size    int64
		samples int
	}
	specs := []spec{{b.cfg.smallSize, b.cfg.ttfbSamples}}
	for _, size := range b.cfg.largeSizes {
		specs = append(specs, spec{size, b.cfg.ttfbLargeSamples})
	}
	for _, s := range specs {
		if s.samples <= 0 {
			continue
		}
		keys, err := b.objectsOf(ctx, s.size)
		if err != nil {
			return err
		}
		whole := s.size <= 1*mib
		v := newVerifier(64 * kib)
		var errs tally
		var lat []time.Duration
		r := b.timed(func() Result {
			for i := range s.samples {
				if ctx.Err() != nil {
					break
				}
				d, err := b.firstByte(ctx, v, keys[i%len(keys)], s.size, whole)
				if err != nil {
					errs.add(err)
					continue
				}
				lat = append(lat, d)
			}
			return Result{Ops: int64(len(lat))}
		})
		errs.fill(&r)
		r.Scenario, r.Size, r.Unit = "ttfb-"+sizeName(s.size), s.size, "ms"
		r.P50Ms, r.P99Ms = percentile(lat, 50), percentile(lat, 99)
		r.Value = r.P50Ms
		if whole {
			r.Note = "sequential GETs on a kept-alive connection; value is p50"
		} else {
			r.Note = "sequential GETs, body closed after the first byte (a new connection each); value is p50"
		}
		if err := b.emit(r); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// objectsOf returns keys of objects of the given size to read: those this
// run wrote, else those an earlier run against the same bucket left (the
// large and small scenarios' keys, so that bench.sh can run each scenario
// group in its own process), else one written now.
func (b *bench) objectsOf(ctx context.Context, size int64) ([]string, error) {
	if keys := b.written[size]; len(keys) > 0 {
		return keys, nil
	}
	prefix := b.cfg.prefix + "large/" + sizeName(size) + "/"
	if size == b.cfg.smallSize {
		prefix = b.cfg.prefix + "small/"
	}
	out, err := b.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.cfg.bucket), Prefix: aws.String(prefix)})
	if err != nil {
		return nil, fmt.Errorf("ListObjectsV2 %s: %w", prefix, err)
	}
	var keys []string
	for _, o := range out.Contents {
		if aws.ToInt64(o.Size) == size {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if len(keys) == 0 {
		key := b.cfg.prefix + "ttfb/" + sizeName(size)
		if err := b.put(ctx, key, size); err != nil {
			return nil, err
		}
		keys = []string{key}
	}
	b.written[size] = keys
	return keys, nil
}

// firstByte GETs key and returns the time until its first body byte. With
// whole, it then reads and checks the rest; otherwise it closes the body.
func (b *bench) firstByte(ctx context.Context, v *verifier, key string, size int64, whole bool) (time.Duration, error) {
	start := time.Now()
	out, err := b.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.cfg.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", key, err)
	}
	defer out.Body.Close()
	var first [1]byte
	if _, err := io.ReadFull(out.Body, first[:]); err != nil {
		return 0, fmt.Errorf("GET %s: first byte: %w", key, err)
	}
	d := time.Since(start)
	if whole {
		_, err = v.check(io.MultiReader(bytes.NewReader(first[:]), out.Body), seedOf(key), size)
	} else {
		var want [1]byte
		newStream(seedOf(key), 0, 1).Read(want[:])
		if first != want {
			err = errMismatch
		}
	}
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", key, err)
	}
	return d, nil
}
