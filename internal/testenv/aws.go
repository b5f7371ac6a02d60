package testenv

import "path/filepath"

// awsConfig makes the aws cli address buckets in the path (/bucket/key):
// 127.0.0.1 has no subdomains for virtual-hosted buckets. StartCoffre writes
// it to awsConfigFile in the server's temporary directory.
const (
	awsConfigFile = "aws-config"
	awsConfig     = `[default]
region = us-east-1
s3 =
    addressing_style = path
`
)

// AWSEnv returns the environment for the aws cli and the AWS SDKs to use s
// with its root credentials: the current environment without any AWS_
// variable, plus the credentials, region us-east-1, path-style addressing
// (in a config file of its own), no instance metadata look-ups, no pager, and
// a single attempt per request, so that a server error fails the test instead
// of being retried away. The aws cli still needs --endpoint-url s.Endpoint
// before version 2.13; newer clients read AWS_ENDPOINT_URL.
func AWSEnv(s *Server) []string {
	return append(environWithout("AWS_"),
		"AWS_ACCESS_KEY_ID="+s.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+s.SecretKey,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL="+s.Endpoint,
		"AWS_CONFIG_FILE="+filepath.Join(s.tmp, awsConfigFile),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(s.tmp, "aws-credentials-none"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	)
}
