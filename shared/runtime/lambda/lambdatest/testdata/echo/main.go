// Command echo is a Lambda function for the harness's tests. It answers
// every event with the event itself, except:
//
//	{"fail": "message"}  fails the invocation with an *echoError
//	{"context": true}    answers with its Lambda context and environment
//	{"panic": "message"} panics (aws-lambda-go reports it and exits)
//	{"block": true}      never answers
//	{"big": N}           answers with a JSON string of N bytes
//
// ECHO_INIT=exit makes it exit with status 3 before starting the
// runtime loop, ECHO_INIT=error posts an init error first, and
// ECHO_IGNORE_SIGTERM=true makes it ignore SIGTERM.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type echoError struct{ msg string }

func (e *echoError) Error() string { return e.msg }

type request struct {
	Fail    string `json:"fail"`
	Context bool   `json:"context"`
	Panic   string `json:"panic"`
	Block   bool   `json:"block"`
	Big     int    `json:"big"`
}

func handle(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
	var req request
	_ = json.Unmarshal(event, &req)
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Fprintf(os.Stderr, "echo: request %s\n", lc.AwsRequestID)
	switch {
	case req.Fail != "":
		return nil, &echoError{msg: req.Fail}
	case req.Panic != "":
		panic(req.Panic)
	case req.Block:
		select {}
	case req.Big > 0:
		return json.Marshal(strings.Repeat("x", req.Big))
	case req.Context:
		deadline, _ := ctx.Deadline()
		env := map[string]string{}
		for _, k := range []string{"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "_HANDLER", "ECHO_EXTRA", "_X_AMZN_TRACE_ID"} {
			env[k] = os.Getenv(k)
		}
		return json.Marshal(map[string]any{
			"request_id": lc.AwsRequestID, "function_arn": lc.InvokedFunctionArn,
			"deadline_ms": deadline.UnixMilli(), "env": env,
		})
	}
	return event, nil
}

func main() {
	switch os.Getenv("ECHO_INIT") {
	case "exit":
		fmt.Fprintln(os.Stderr, "echo: exiting at init")
		os.Exit(3)
	case "error":
		body, _ := json.Marshal(map[string]string{"errorMessage": "echo: configuration is missing", "errorType": "Runtime.InitError"})
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			fmt.Fprintln(os.Stderr, "echo: init error posted, status "+strconv.Itoa(resp.StatusCode))
		}
		os.Exit(1)
	}
	if os.Getenv("ECHO_IGNORE_SIGTERM") == "true" {
		signal.Ignore(syscall.SIGTERM)
		lambda.Start(handle)
		return
	}
	lambda.StartWithOptions(handle, lambda.WithEnableSIGTERM(func() {
		fmt.Fprintln(os.Stderr, "echo: shutting down")
		os.Exit(0)
	}))
}
