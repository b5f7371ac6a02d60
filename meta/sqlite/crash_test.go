package sqlite

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffre-cloud/coffre/meta"
)

// The crash test re-runs the test binary as a child process that writes to
// the store from many goroutines, kills it with SIGKILL at a random moment,
// and checks that every Update the child saw acknowledged survived, whole.
// A power loss cannot be simulated here; that part of the durability
// argument rests on synchronous=FULL (see the package documentation).
const (
	crashEnvPath  = "COFFRE_SQLITE_CRASH_DB"
	crashEnvRound = "COFFRE_SQLITE_CRASH_ROUND"
	crashWriters  = 16
)

// crashValue is the value of key: 64 to ~3,000 bytes, so that records span
// pages, derived from the key so that a torn or misplaced value shows.
func crashValue(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	n := 64 + int(binary.BigEndian.Uint16(sum[:]))%3000
	return bytes.Repeat(sum[:], n/len(sum)+1)[:n]
}

// TestCrashChild is the child process of TestCrash; in an ordinary run it
// skips.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvPath)
	if path == "" {
		t.Skip("run by TestCrash only")
	}
	round := os.Getenv(crashEnvRound)
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stdout, "error", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	ack := func(key string) {
		mu.Lock()
		defer mu.Unlock()
		// Unbuffered: the line is in the pipe before the next Update.
		fmt.Fprintf(os.Stdout, "ack %s\n", key)
	}
	for g := range crashWriters {
		go func() {
			counter := fmt.Appendf(nil, "count/%s/%02d", round, g)
			for i := 0; ; i++ {
				key := fmt.Sprintf("r%s/g%02d/%08d", round, g, i)
				value := crashValue(key)
				err := s.Update(ctx, func(tx meta.Tx) error {
					if err := tx.Put([]byte(key), value); err != nil {
						return err
					}
					if err := tx.Put([]byte("mirror/"+key), value); err != nil {
						return err
					}
					return tx.Put(counter, binary.BigEndian.AppendUint64(nil, uint64(i+1)))
				})
				if err != nil {
					fmt.Fprintln(os.Stdout, "error", err)
					os.Exit(2)
				}
				ack(key)
			}
		}()
	}
	// The parent kills us long before this; exit anyway rather than write
	// forever if it has died.
	time.Sleep(time.Minute)
	os.Exit(3)
}

func TestCrash(t *testing.T) {
	path := t.TempDir() + "/meta.db"
	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	acked := map[string]bool{}
	for round := range rounds {
		n := crashRound(t, path, round, time.Duration(r.IntN(100))*time.Millisecond, acked)
		t.Logf("round %d: %d Updates acknowledged before SIGKILL", round, n)
		checkAfterCrash(t, path, round+1, acked)
	}
}

// crashRound runs the child until it has acknowledged some Updates, waits
// extra, kills it, and records the keys it acknowledged.
func crashRound(t *testing.T, path string, round int, extra time.Duration, acked map[string]bool) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvPath+"="+path, fmt.Sprintf("%s=%d", crashEnvRound, round))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var keys []string
	var childErr string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return // EOF; a line cut by the kill has no newline and is not an ack
			}
			line = strings.TrimSuffix(line, "\n")
			mu.Lock()
			switch {
			case strings.HasPrefix(line, "ack "):
				keys = append(keys, strings.TrimPrefix(line, "ack "))
			case strings.HasPrefix(line, "error "):
				childErr = line
			}
			mu.Unlock()
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(keys)
	}
	deadline := time.Now().Add(30 * time.Second)
	for count() < 200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(extra)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-readDone // everything the child wrote before dying
	err = cmd.Wait()
	if childErr != "" {
		t.Fatalf("child: %s", childErr)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL (did it run?)", err)
	}
	if len(keys) < 200 {
		t.Fatalf("child acknowledged %d Updates in 30 s, want at least 200", len(keys))
	}
	for _, k := range keys {
		acked[k] = true
	}
	return len(keys)
}

// checkAfterCrash reopens the store and checks that every acknowledged key
// is there with its value, and that every Update is all or nothing: each key
// has its mirror, and each writer's counter equals its number of keys.
func checkAfterCrash(t *testing.T, path string, rounds int, acked map[string]bool) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	err = s.View(ctx, func(tx meta.Tx) error {
		for k := range acked {
			v, err := tx.Get([]byte(k))
			if err != nil {
				return fmt.Errorf("acknowledged key %s: %w", k, err)
			}
			if !bytes.Equal(v, crashValue(k)) {
				return fmt.Errorf("acknowledged key %s has a wrong value (%d bytes)", k, len(v))
			}
		}
		perWriter := map[string]uint64{}
		err := tx.Scan([]byte("r"), []byte("s"), func(k, v []byte) (bool, error) {
			if !bytes.Equal(v, crashValue(string(k))) {
				return false, fmt.Errorf("key %s has a wrong value", k)
			}
			m, err := tx.Get(append([]byte("mirror/"), k...))
			if err != nil || !bytes.Equal(m, v) {
				return false, fmt.Errorf("key %s without its mirror (%v): an Update was torn", k, err)
			}
			perWriter[string(k[:strings.LastIndexByte(string(k), '/')])]++
			return true, nil
		})
		if err != nil {
			return err
		}
		for round := range rounds {
			for g := range crashWriters {
				want := perWriter[fmt.Sprintf("r%d/g%02d", round, g)]
				var got uint64
				v, err := tx.Get(fmt.Appendf(nil, "count/%d/%02d", round, g))
				switch {
				case err == nil:
					got = binary.BigEndian.Uint64(v)
				case err != meta.ErrNotFound:
					return err
				}
				if got != want {
					return fmt.Errorf("round %d writer %d: counter %d, but %d keys: an Update was torn", round, g, got, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
