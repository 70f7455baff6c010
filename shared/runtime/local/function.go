package local

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// Secret is a secret value that never prints: its String and LogValue
// are redacted.
type Secret []byte

// String implements fmt.Stringer without revealing the secret.
func (s Secret) String() string { return "[redacted]" }

// LogValue implements slog.LogValuer without revealing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// FunctionConfig is the typed configuration of one deployable function
// run by the local host, read from the environment.
type FunctionConfig struct {
	Name    string
	LakeURL string
	Dir     string
	Secret  Secret
	Apply   bool
	Addr    string
	Policy  string
}

// LogValue lists the configuration with the secret redacted.
func (c FunctionConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("function", c.Name), slog.String("lake_url", c.LakeURL), slog.String("dir", c.Dir),
		slog.Any("secret", c.Secret), slog.Bool("apply", c.Apply), slog.String("addr", c.Addr))
}

// Functions lists the deployable functions.
var Functions = []string{"collect-aws", "collect-azure", "collect-gcp", "optimize", "approve", "actuate"}

// ConfigFromEnv reads a function's configuration: CLOUDTRIM_LAKE_URL or
// CLOUDTRIM_DIR (one is required), CLOUDTRIM_WEBHOOK_SECRET (required
// by approve), CLOUDTRIM_APPLY=true to make changes, PORT for approve,
// CLOUDTRIM_POLICY for a policy file.
func ConfigFromEnv(name string, getenv func(string) string) (FunctionConfig, error) {
	c := FunctionConfig{
		Name: name, LakeURL: getenv("CLOUDTRIM_LAKE_URL"), Dir: getenv("CLOUDTRIM_DIR"),
		Secret: Secret(getenv("CLOUDTRIM_WEBHOOK_SECRET")), Apply: getenv("CLOUDTRIM_APPLY") == "true",
		Addr: "127.0.0.1:" + envOrFn(getenv, "PORT", "8080"), Policy: getenv("CLOUDTRIM_POLICY"),
	}
	known := false
	for _, f := range Functions {
		known = known || f == name
	}
	switch {
	case !known:
		return c, fmt.Errorf("%w: unknown function %q", domain.ErrInvalid, name)
	case c.LakeURL == "" && c.Dir == "":
		return c, fmt.Errorf("%w: set CLOUDTRIM_LAKE_URL (or CLOUDTRIM_DIR for a local directory)", domain.ErrInvalid)
	case name == "approve" && len(c.Secret) < 16:
		return c, fmt.Errorf("%w: CLOUDTRIM_WEBHOOK_SECRET must be set to at least 16 bytes", domain.ErrInvalid)
	}
	if _, err := funcapp.ParseApply(getenv("CLOUDTRIM_APPLY")); err != nil {
		return c, err
	}
	return c, nil
}

// RunFunction runs one invocation of a deployable function on the local
// host against the simulated estate: the collectors collect their cloud
// once, optimize plans once, actuate drains the approved actions, and
// approve serves the webhook until ctx ends. Inside a cloud function
// runtime it refuses: the cloud hosts are separate adapters.
func RunFunction(ctx context.Context, name string, getenv func(string) string, stdout, stderr io.Writer) int {
	logger := slog.New(slog.NewJSONHandler(stderr, nil)).With("function", name)
	if hosted := cloudHost(getenv); hosted != "" {
		logger.Error("this binary runs on the local host only; the " + hosted + " adapter is a separate build")
		return 1
	}
	cfg, err := ConfigFromEnv(name, getenv)
	if err != nil {
		logger.Error("configuration", "error", err)
		return 2
	}
	logger.Info("starting", "config", cfg)
	var args []string
	switch {
	case strings.HasPrefix(name, "collect-"):
		args = []string{"collect", "--clouds", strings.TrimPrefix(name, "collect-")}
	case name == "optimize":
		args = []string{"plan"}
	case name == "actuate":
		args = []string{"actuate", fmt.Sprintf("--apply=%v", cfg.Apply)}
	case name == "approve":
		args = []string{"serve", "--addr", cfg.Addr}
	}
	if cfg.Dir != "" {
		args = append(args, "--dir", cfg.Dir)
	}
	if cfg.LakeURL != "" {
		args = append(args, "--lake", cfg.LakeURL)
	}
	if cfg.Policy != "" {
		args = append(args, "--policy", cfg.Policy)
	}
	return Main(ctx, args, stdout, stderr)
}

func cloudHost(getenv func(string) string) string {
	switch {
	case getenv("AWS_LAMBDA_RUNTIME_API") != "":
		return "AWS Lambda"
	case getenv("FUNCTIONS_CUSTOMHANDLER_PORT") != "":
		return "Azure Functions"
	case getenv("K_SERVICE") != "" || getenv("FUNCTION_TARGET") != "":
		return "Google Cloud Functions"
	}
	return ""
}

func envOrFn(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}
