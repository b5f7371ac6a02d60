package torture_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// inspector is the clients' HTTP transport: it checks that every error
// answer is a clean S3 error (an XML document with a Code from S3's set,
// matching its status, a Message, and the RequestId of its
// x-amz-request-id header) before the SDK parses it, and counts the answers
// by status and code.
type inspector struct {
	next http.RoundTripper
	w    *workload
}

func (in *inspector) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := in.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 {
		return resp, err
	}
	what := describeRequest(req)
	if req.Method == http.MethodHead {
		in.w.stats.add(fmt.Sprintf("answers.%d", resp.StatusCode), 1)
		in.checkCode(what, resp.StatusCode, "")
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		// A kill cuts answers too; the operation sees a failed request.
		return nil, fmt.Errorf("reading the body of a %d answer: %w", resp.StatusCode, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var e struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
	}
	problem := ""
	switch err := xml.Unmarshal(body, &e); {
	case err != nil:
		problem = fmt.Sprintf("the body is not an S3 error document (%v)", err)
	case !strings.Contains(resp.Header.Get("Content-Type"), "xml"):
		problem = fmt.Sprintf("Content-Type is %q", resp.Header.Get("Content-Type"))
	case e.Code == "" || e.Message == "":
		problem = "the error has no Code or no Message"
	case e.RequestID == "" || e.RequestID != resp.Header.Get("x-amz-request-id"):
		problem = fmt.Sprintf("RequestId %q is not the x-amz-request-id header %q", e.RequestID, resp.Header.Get("x-amz-request-id"))
	}
	if problem != "" {
		in.w.violate("unclean_error", "%s: status %d: %s; body %.300q", what, resp.StatusCode, problem, body)
		return resp, nil
	}
	in.w.stats.add(fmt.Sprintf("answers.%d.%s", resp.StatusCode, e.Code), 1)
	if strings.Contains(e.Message, "integrity check") {
		in.w.stats.add("integrity.answered_500", 1)
	}
	in.checkCode(what, resp.StatusCode, e.Code)
	return resp, nil
}

// checkCode checks that an error code is one of S3's, with its status, and,
// when the backend fails on purpose, that the failure is not blamed on the
// client: the workload only sends valid requests, so the only 4xx answers
// it may get are a missing key and a range past the end.
func (in *inspector) checkCode(what string, status int, code string) {
	if code != "" {
		want, ok := s3Codes[code]
		switch {
		case !ok:
			in.w.violate("unclean_error", "%s: status %d with code %s, which is not an S3 error code", what, status, code)
			return
		case want != status:
			in.w.violate("unclean_error", "%s: status %d with code %s, which S3 answers with status %d", what, status, code, want)
			return
		}
	}
	switch {
	case status >= 500:
		if code == "" && status != 500 && status != 503 {
			in.w.violate("unclean_error", "%s: status %d", what, status)
		}
	case status == 404 && (code == "" || code == "NoSuchKey"):
	case status == 416 && (code == "" || code == "InvalidRange"):
	case in.w.faulty:
		in.w.violate("client_error_for_server_fault", "%s: status %d %s for a valid request, while the backend was failing: the client is told it erred, and will not retry", what, status, code)
	}
}

// describeRequest names a request for messages: method, path and the names
// of its query parameters.
func describeRequest(req *http.Request) string {
	var params []string
	for k := range req.URL.Query() {
		params = append(params, k)
	}
	s := req.Method + " " + req.URL.Path
	if len(params) > 0 {
		s += "?" + strings.Join(params, "&")
	}
	if req.Header.Get("x-amz-copy-source") != "" {
		s += " (copy from " + req.Header.Get("x-amz-copy-source") + ")"
	}
	if r := req.Header.Get("Range"); r != "" {
		s += " (Range " + r + ")"
	}
	return s
}

// s3Codes are the error codes S3 documents, with their status, and the
// ones Coffre adds for placement and quotas (README: Placement by
// sensitivity).
var s3Codes = map[string]int{
	"AccessDenied":                            403,
	"AccountProblem":                          403,
	"AuthorizationHeaderMalformed":            400,
	"AuthorizationQueryParametersError":       400,
	"BadDigest":                               400,
	"BucketAlreadyExists":                     409,
	"BucketAlreadyOwnedByYou":                 409,
	"BucketNotEmpty":                          409,
	"EntityTooLarge":                          400,
	"EntityTooSmall":                          400,
	"ExpiredToken":                            400,
	"IllegalVersioningConfigurationException": 400,
	"IncompleteBody":                          400,
	"InternalError":                           500,
	"InvalidAccessKeyId":                      403,
	"InvalidArgument":                         400,
	"InvalidBucketName":                       400,
	"InvalidBucketState":                      409,
	"InvalidChunkSizeError":                   400,
	"InvalidDigest":                           400,
	"InvalidLocationConstraint":               400,
	"InvalidObjectState":                      403,
	"InvalidPart":                             400,
	"InvalidPartNumber":                       416,
	"InvalidPartOrder":                        400,
	"InvalidRange":                            416,
	"InvalidRequest":                          400,
	"InvalidStorageClass":                     400,
	"InvalidTag":                              400,
	"KeyTooLongError":                         400,
	"KMS.KMSInvalidStateException":            400,
	"MalformedTrailerError":                   400,
	"MalformedXML":                            400,
	"MaxMessageLengthExceeded":                400,
	"MetadataTooLarge":                        400,
	"MethodNotAllowed":                        405,
	"MissingContentLength":                    411,
	"NoSuchBucket":                            404,
	"NoSuchKey":                               404,
	"NoSuchTagSet":                            404,
	"NoSuchUpload":                            404,
	"NoSuchVersion":                           404,
	"NotImplemented":                          501,
	"OperationAborted":                        409,
	"PlacementRefused":                        403,
	"PreconditionFailed":                      412,
	"QuotaExceeded":                           403,
	"RequestTimeTooSkewed":                    403,
	"RequestTimeout":                          400,
	"ServiceUnavailable":                      503,
	"SignatureDoesNotMatch":                   403,
	"SlowDown":                                503,
	"XAmzContentSHA256Mismatch":               400,
}
