package fs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/backend"
	"github.com/coffre-cloud/coffre/backend/fs"
)

// The crash test re-runs this test binary as a child that writes and
// deletes blobs from many goroutines and reports each operation that
// returned, then kills it with SIGKILL in the middle of its work and checks
// what a new store finds in the directory.
//
// The operations of each worker are a pure function of (worker, index), so
// the parent knows, from the count of operations a worker reported, both the
// state they leave and the one operation that may have been in flight. Each
// blob must be in one of those two states, byte for byte: never partial,
// never lost once reported.
//
// SIGKILL tests atomicity, not durability: the page cache survives the
// process. TestDirectorySyncs checks the fsyncs that durability rests on.
const (
	crashEnv     = "COFFRE_FS_CRASH_CHILD"
	crashGCEnv   = "COFFRE_FS_CRASH_GROUPCOMMIT"
	crashWorkers = 16
	namesPerW    = 4
)

// crashOp is operation k of worker w: a Put (of the name's next version) or
// a Delete, on one of the worker's own names, so that the operations on a
// name are sequential and the parent can replay them.
func crashOp(w, k int) (name string, del bool) {
	h := mix(uint64(w)<<32 | uint64(k))
	return crashName(w, int(h%namesPerW)), h>>32%5 == 0
}

// crashName is the i-th name of worker w. Names of different workers share
// directories, and deletes empty them, so that Puts race the pruning of
// their directory.
func crashName(w, i int) string {
	if i == 3 {
		return fmt.Sprintf("c/deep/%d/x/w%d-n%d", w%2, w, i)
	}
	return fmt.Sprintf("c/%d/w%d-n%d", (w+i)%4, w, i)
}

// crashContent is the blob of version v of name.
func crashContent(name string, v int) []byte {
	h := mix(uint64(len(name))<<40 ^ uint64(v))
	for _, c := range []byte(name) {
		h = mix(h ^ uint64(c))
	}
	size := int(h % (512 << 10))
	if h>>60 < 4 {
		size %= 100 // a quarter are tiny
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], h)
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

func mix(x uint64) uint64 { // splitmix64
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("-short: kills child processes in the middle of their writes")
	}
	for _, gc := range []string{"off", "on"} {
		for _, killAfter := range []int{1, 40, 300, 1000} {
			t.Run(fmt.Sprintf("groupcommit=%s/killAfter=%d", gc, killAfter), func(t *testing.T) {
				dir := t.TempDir()
				acked := runCrashChild(t, dir, gc, killAfter)
				checkCrash(t, dir, acked)
			})
		}
	}
}

// runCrashChild starts the child on dir, SIGKILLs it once it has reported
// killAfter operations, and returns how many operations each worker
// reported.
func runCrashChild(t *testing.T, dir, gc string, killAfter int) []int {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashGCEnv+"="+gc)
	cmd.ExtraFiles = []*os.File{pw} // fd 3 in the child
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()

	acked := make([]int, crashWorkers)
	total := 0
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		var w, k int
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &w, &k); err != nil || w < 0 || w >= crashWorkers {
			t.Fatalf("child reported %q", sc.Text())
		}
		if k != acked[w] {
			t.Fatalf("worker %d reported op %d after %d ops", w, k, acked[w])
		}
		acked[w]++
		total++
		if total == killAfter {
			cmd.Process.Kill()
		}
		// Reports sent before the kill are still read, until EOF.
	}
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, not by SIGKILL, after %d ops; output:\n%s", err, total, stderr.String())
	}
	t.Logf("child killed after %d reported operations", total)
	return acked
}

// crashChild runs the workers until the parent kills it.
func crashChild(dir string) {
	s, err := fs.Open(dir, fs.WithGroupCommit(os.Getenv(crashGCEnv) == "on"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	acks := os.NewFile(3, "acks")
	for w := range crashWorkers {
		go func() {
			versions := map[string]int{}
			for k := 0; ; k++ {
				name, del := crashOp(w, k)
				var err error
				if del {
					err = s.Delete(context.Background(), name)
				} else {
					versions[name]++
					b := crashContent(name, versions[name])
					err = s.Put(context.Background(), name, bytes.NewReader(b), int64(len(b)))
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "worker %d op %d: %v\n", w, k, err)
					os.Exit(1)
				}
				// One write per line: a pipe write under PIPE_BUF is atomic.
				if _, err := fmt.Fprintf(acks, "%d %d\n", w, k); err != nil {
					os.Exit(1)
				}
			}
		}()
	}
	// The parent kills the child; this bounds it if the parent died first.
	time.Sleep(2 * time.Minute)
	os.Exit(2)
}

// checkCrash opens the directory a killed child left and checks every blob
// against the operations the child reported.
func checkCrash(t *testing.T, dir string, acked []int) {
	s := openStore(t, dir)
	if des, err := os.ReadDir(filepath.Join(dir, "+tmp")); err != nil || len(des) != 0 {
		t.Errorf("+tmp after Open = %d entries, %v; want empty", len(des), err)
	}

	// allowed maps each name to the versions it may hold (0: absent): the
	// one its worker's reported operations leave, and the outcome of the
	// operation that followed, in flight at the kill or not yet started.
	allowed := map[string][]int{}
	for w := range crashWorkers {
		versions := map[string]int{} // Puts so far, per name
		cur := map[string]int{}      // version present, per name
		for k := range acked[w] {
			name, del := crashOp(w, k)
			if del {
				cur[name] = 0
			} else {
				versions[name]++
				cur[name] = versions[name]
			}
		}
		for i := range namesPerW {
			name := crashName(w, i)
			allowed[name] = []int{cur[name]}
		}
		name, del := crashOp(w, acked[w])
		next := 0
		if !del {
			next = versions[name] + 1
		}
		allowed[name] = append(allowed[name], next)
	}

	listed := map[string]bool{}
	err := s.List(t.Context(), "", func(info backend.Info) error {
		listed[info.Name] = true
		if _, ok := allowed[info.Name]; !ok {
			t.Errorf("blob %q was never written", info.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	for name, states := range allowed {
		got, err := readBlob(t, s, name)
		if err == backend.ErrNotFound {
			if listed[name] {
				t.Errorf("%q is listed but Get says missing", name)
			}
			if !slices.Contains(states, 0) {
				t.Errorf("%q is missing; the operations reported leave version %d", name, states[0])
			}
			continue
		}
		if err != nil {
			t.Fatalf("Get(%q) = %v", name, err)
		}
		if !listed[name] {
			t.Errorf("%q is readable but not listed", name)
		}
		match := false
		for _, v := range states {
			if v > 0 && bytes.Equal(got, crashContent(name, v)) {
				match = true
			}
		}
		if !match {
			t.Errorf("%q holds %d bytes that are none of the allowed versions %v", name, len(got), states)
		}
	}
	// Nothing but blobs, empty directories and the store's files.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "+lock" && !strings.HasSuffix(rel, "+") {
			t.Errorf("stray file %s", rel)
		}
		return nil
	})
}

func readBlob(t *testing.T, s *fs.Store, name string) ([]byte, error) {
	rc, err := s.Get(t.Context(), name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
