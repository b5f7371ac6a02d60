//go:build unix

package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// swiftAuth logs in with tempauth and returns the storage URL and token.
func swiftAuth(t *testing.T, s *SwiftServer) (storage, token string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.AuthURL, nil)
	req.Header.Set("X-Auth-User", s.User)
	req.Header.Set("X-Auth-Key", s.Key)
	resp := swiftDo(t, req, http.StatusOK)
	return resp.Header.Get("X-Storage-Url"), resp.Header.Get("X-Auth-Token")
}

func swiftDo(t *testing.T, req *http.Request, want int) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %s, want %d: %s", req.Method, req.URL, resp.Status, want, body)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

func swiftRequest(t *testing.T, method, url, token string, body []byte, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("X-Auth-Token", token)
	b, _ := io.ReadAll(swiftDo(t, req, want).Body)
	return b
}

func swiftS3Client(s *SwiftServer) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.S3Endpoint),
		Region:       s.S3Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.S3AccessKey, s.S3SecretKey, ""),
		UsePathStyle: true,
		// Swift 2.30's s3api knows no flexible checksums.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func TestSwift(t *testing.T) {
	s := Swift(t)
	t.Logf("Swift started in %v at %s", s.StartTime, s.ProxyAddr)
	if again := Swift(t); again != s {
		t.Fatalf("second Swift(t) = %p, want the binary's instance %p", again, s)
	}

	// Native API: a container and an object, through tempauth.
	storage, token := swiftAuth(t, s)
	payload := []byte("hello swift")
	swiftRequest(t, "PUT", storage+"/testenv-native", token, nil, http.StatusCreated)
	swiftRequest(t, "PUT", storage+"/testenv-native/a/b", token, payload, http.StatusCreated)
	if got := swiftRequest(t, "GET", storage+"/testenv-native/a/b", token, nil, http.StatusOK); !bytes.Equal(got, payload) {
		t.Fatalf("GET after PUT = %q, want %q", got, payload)
	}

	// S3 API of the same proxy and account: an object written through S3
	// is an object of the container of the same name.
	ctx := t.Context()
	c := swiftS3Client(s)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("testenv-s3")}); err != nil {
		t.Fatalf("S3 CreateBucket = %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("testenv-s3"), Key: aws.String("k"), Body: bytes.NewReader(payload)}); err != nil {
		t.Fatalf("S3 PutObject = %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("testenv-s3"), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("S3 GetObject = %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, payload) {
		t.Fatalf("S3 GetObject = %q, want %q", got, payload)
	}
	if got := swiftRequest(t, "GET", storage+"/testenv-s3/k", token, nil, http.StatusOK); !bytes.Equal(got, payload) {
		t.Fatalf("native GET of an object written through S3 = %q, want %q", got, payload)
	}

	// Wrong credentials are refused by both APIs.
	req, _ := http.NewRequest("GET", s.AuthURL, nil)
	req.Header.Set("X-Auth-User", s.User)
	req.Header.Set("X-Auth-Key", "wrong")
	swiftDo(t, req, http.StatusUnauthorized)
	bad := s3.New(s3.Options{
		BaseEndpoint: aws.String(s.S3Endpoint), Region: s.S3Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.S3AccessKey, "wrong", ""),
	})
	if _, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("S3 ListBuckets with a wrong secret = %v, want SignatureDoesNotMatch", err)
	}
}

func TestSwiftStopProxy(t *testing.T) {
	s := Swift(t)
	s.StopProxy(t)
	if c, err := net.DialTimeout("tcp", s.ProxyAddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("proxy %s still accepts connections after StopProxy", s.ProxyAddr)
	}
	if _, ok := s.PIDs()["proxy"]; ok {
		t.Fatalf("PIDs() lists the proxy after StopProxy: %v", s.PIDs())
	}
	start := time.Now()
	s.StartProxy(t)
	t.Logf("proxy restarted in %v", time.Since(start))
	swiftAuth(t, s)
}

// TestSwiftStop checks that Stop leaves no daemon and no listener behind.
func TestSwiftStop(t *testing.T) {
	needSwift(t)
	s, err := startSwift()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(s.Dir)
	t.Logf("private Swift started in %v", s.StartTime)
	pids := s.PIDs()
	if len(pids) != 5 {
		t.Fatalf("PIDs() = %v, want 5 daemons", pids)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop = %v", err)
	}
	for name, pid := range pids {
		if !swiftProcessGone(pid) {
			t.Errorf("%s (pid %d) still running after Stop", name, pid)
		}
	}
	if c, err := net.DialTimeout("tcp", s.ProxyAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("proxy %s still accepts connections after Stop", s.ProxyAddr)
	}
}

// TestSwiftDiesWithBinary runs a test binary that starts Swift and exits
// without any cleanup (as on a panic or a timeout): its daemons must die
// with it, and its directory must go at the next start.
func TestSwiftDiesWithBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second Swift in a child process (-short)")
	}
	needSwift(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSwiftChild$", "-test.v")
	cmd.Env = append(os.Environ(), "COFFRE_TESTENV_SWIFT_CHILD=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child test binary: %v\n%s", err, out)
	}
	var child struct {
		PIDs map[string]int
		Dir  string
	}
	_, line, _ := strings.Cut(string(out), "CHILD ")
	line, _, _ = strings.Cut(line, "\n")
	if err := json.Unmarshal([]byte(line), &child); err != nil || len(child.PIDs) != 5 {
		t.Fatalf("child output has no PIDs (%v):\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for name, pid := range child.PIDs {
		for !swiftProcessGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s (pid %d) of an exited test binary still running", name, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	removeStaleSwiftDirs()
	if _, err := os.Stat(child.Dir); !os.IsNotExist(err) {
		t.Errorf("directory %s of an exited test binary still there after removeStaleSwiftDirs: %v", child.Dir, err)
	}
}

// TestSwiftChild is the child of TestSwiftDiesWithBinary.
func TestSwiftChild(t *testing.T) {
	if os.Getenv("COFFRE_TESTENV_SWIFT_CHILD") == "" {
		t.Skip("run by TestSwiftDiesWithBinary")
	}
	s := Swift(t)
	b, _ := json.Marshal(map[string]any{"PIDs": s.PIDs(), "Dir": s.Dir})
	fmt.Printf("CHILD %s\n", b)
	os.Exit(0) // no cleanup at all
}

// swiftProcessGone reports whether pid has exited: no such process, or a zombie
// that PID 1 has not reaped yet (it reaps late on these machines).
func swiftProcessGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !processAlive(pid)
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
