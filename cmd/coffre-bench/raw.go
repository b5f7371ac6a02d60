package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// quickRaw is the -quick preset of the raw command: the volumes of the s3
// command's -quick.
var quickRaw = map[string]string{
	"large-sizes":          quickS3["large-sizes"],
	"large-volume":         quickS3["large-volume"],
	"large-iterations":     quickS3["large-iterations"],
	"multipart-size":       quickS3["multipart-size"],
	"multipart-iterations": quickS3["multipart-iterations"],
}

// rawCmd measures the disk under the servers: the same volumes as the s3
// command's large-object and multipart scenarios, written to files with
// write+fsync and read back, by the same generator and checker, without a
// server or a network in between. Its results carry the s3 scenarios'
// names, so that the report puts them side by side.
type rawCmd struct {
	stdout, stderr io.Writer
}

func (c *rawCmd) Run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("raw", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	dir := fl.String("dir", "", "directory on the disk to measure (files are written in a new subdirectory, removed at the end)")
	target := fl.String("target", "raw", "name of what is measured, in the results")
	jsonPath := fl.String("json", "", "append one JSON line per scenario to this file")
	quick := fl.Bool("quick", false, "the volumes of coffre-bench s3 -quick")
	largeSizes := fl.String("large-sizes", "64MiB,1GiB", "file sizes, as the s3 command's large objects")
	iterations := fl.Int("large-iterations", 3, "minimum number of files of each size")
	largeVolume := fl.String("large-volume", "1GiB", "bytes per size: max(large-iterations, large-volume/size) files")
	multipartSize := fl.String("multipart-size", "256MiB", "size written for the multipart scenario, as one sequential file")
	multipartIterations := fl.Int("multipart-iterations", 2, "files of -multipart-size")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fl.Arg(0))
	}
	if *quick {
		if err := applyPreset(fl, quickRaw); err != nil {
			return err
		}
	}
	if *dir == "" {
		return fmt.Errorf("%w: -dir is required", errUsage)
	}
	sizes, err := parseSizes(*largeSizes)
	if err != nil {
		return fmt.Errorf("%w: -large-sizes: %v", errUsage, err)
	}
	volume, err := parseSize(*largeVolume)
	if err != nil {
		return fmt.Errorf("%w: -large-volume: %v", errUsage, err)
	}
	mpSize, err := parseSize(*multipartSize)
	if err != nil {
		return fmt.Errorf("%w: -multipart-size: %v", errUsage, err)
	}
	jw, closeJSON, err := openJSON(*jsonPath)
	if err != nil {
		return err
	}
	defer closeJSON()
	work, err := os.MkdirTemp(*dir, "raw-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	d := &rawDisk{dir: work, target: *target, out: &emitter{json: jw}, log: c.stderr, watch: &procWatch{}}
	for _, size := range sizes {
		n := max(int64(*iterations), volume/max(size, 1))
		if err := d.measure(ctx, "put-"+sizeName(size), "get-"+sizeName(size), size, int(n)); err != nil {
			return err
		}
	}
	if *multipartIterations > 0 {
		if err := d.measure(ctx, "multipart-"+sizeName(mpSize), "", mpSize, *multipartIterations); err != nil {
			return err
		}
	}
	if err := d.out.table(c.stdout); err != nil {
		return err
	}
	return closeJSON()
}

// rawDisk writes and reads files in dir.
type rawDisk struct {
	dir    string
	target string
	out    *emitter
	log    io.Writer
	watch  *procWatch
	seq    int
}

func (d *rawDisk) emit(r Result) error {
	r.Target = d.target
	if err := d.out.emit(r); err != nil {
		return err
	}
	fmt.Fprintf(d.log, "%s %-16s %10s %-6s (%d files in %.2f s)\n", r.Target, r.Scenario, fmtNum(r.Value), r.Unit, r.Ops, r.Seconds)
	return nil
}

// measure writes n files of size bytes (scenario put), then, when get is
// not empty, reads them back twice: as they are, most likely from the page
// cache like a server's GET right after its PUT (scenario get), then after
// asking the kernel to drop their cached pages (scenario get-cold).
func (d *rawDisk) measure(ctx context.Context, put, get string, size int64, n int) error {
	paths := make([]string, n)
	for i := range paths {
		d.seq++
		paths[i] = filepath.Join(d.dir, strconv.Itoa(d.seq))
	}
	defer func() {
		for _, p := range paths {
			os.Remove(p)
		}
	}()
	buf := make([]byte, 1*mib)
	d.watch.start()
	start := time.Now()
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeFile(p, seedOf(p), size, buf); err != nil {
			return err
		}
	}
	r := Result{Scenario: put, Size: size, Ops: int64(n), Bytes: int64(n) * size, Seconds: time.Since(start).Seconds(), Unit: "MB/s"}
	d.watch.end(&r)
	r.Value = mbps(r.Bytes, r.Seconds)
	r.Note = "write in 1 MiB calls, writeback started every 8 MiB (sync_file_range), fsync of the file and its directory, per file"
	if err := d.emit(r); err != nil {
		return err
	}
	if get == "" {
		return nil
	}
	v := newVerifier(256 * kib)
	for _, cold := range []bool{false, true} {
		r := Result{Scenario: get, Size: size, Ops: int64(n), Bytes: int64(n) * size, Unit: "MB/s", Note: "read back at once (page cache warm), every byte checked"}
		if cold {
			r.Scenario += "-cold"
			r.Note = "read back after posix_fadvise(DONTNEED) on each file, every byte checked"
			for _, p := range paths {
				if err := dropCache(p); err != nil {
					return err
				}
			}
		}
		d.watch.start()
		start := time.Now()
		for _, p := range paths {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := readFile(v, p, seedOf(p), size); err != nil {
				return err
			}
		}
		r.Seconds = time.Since(start).Seconds()
		d.watch.end(&r)
		r.Value = mbps(r.Bytes, r.Seconds)
		if err := d.emit(r); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes size bytes of seed's stream to a new file at path and
// makes them durable: the file, then its directory entry.
func writeFile(path string, seed uint64, size int64, buf []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// The disk starts writing every 8 MiB, as Coffre's file-system backend
	// has it do, rather than all at the fsync: the best a writer of durable
	// files can do, which is what the raw disk stands for.
	src := newStream(seed, 0, size)
	var written, started int64
	for {
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return err
			}
			written += int64(n)
			if written-started >= writebackChunk {
				if err := startWriteback(f, started, written-started); err != nil {
					f.Close()
					return err
				}
				started = written
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		} else if rerr != nil {
			f.Close()
			return rerr
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

func readFile(v *verifier, path string, seed uint64, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if n, err := v.check(f, seed, size); err != nil {
		return fmt.Errorf("reading %s back: after %d bytes: %w", path, n, err)
	}
	return nil
}
