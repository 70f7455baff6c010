package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// measureColdStarts starts bin runs times with env and PORT (or the variable
// portEnv) set to a free port, and measures the time from the start of
// the process to the first 2xx answer to the request request makes for
// that port, polling every 0.5 ms. It returns the times sorted.
func measureColdStarts(bin, portEnv string, env []string, runs int, request func(port int) *http.Request) ([]time.Duration, error) {
	var times []time.Duration
	for range runs {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin)
		cmd.Env = append(append(os.Environ(), env...), portEnv+"="+strconv.Itoa(port))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		var took time.Duration
		for deadline := start.Add(10 * time.Second); time.Now().Before(deadline); {
			resp, err := http.DefaultClient.Do(request(port))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					took = time.Since(start)
					break
				}
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				return nil, fmt.Errorf("cold start: first answer %d\n%s", resp.StatusCode, stderr.String())
			}
			time.Sleep(500 * time.Microsecond)
		}
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if took == 0 {
			return nil, fmt.Errorf("cold start: no answer within 10 s\n%s", stderr.String())
		}
		times = append(times, took)
	}
	slices.Sort(times)
	return times, nil
}

// printColdStarts prints one cold start table row against the 150 ms
// target.
func printColdStarts(header, row string, binBytes int64, times []time.Duration) {
	p := func(q float64) time.Duration { return times[min(len(times)-1, int(q*float64(len(times))))] }
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, header+"\tbinary\truns\tp50\tp95\tmax\ttarget\tmet\t")
	fmt.Fprintf(tw, "%s\t%.1f MiB\t%d\t%s\t%s\t%s\t≤ 150 ms\t%s\t\n", row, float64(binBytes)/(1<<20), len(times),
		r(p(0.5)), r(p(0.95)), r(times[len(times)-1]), yes(p(0.95) <= 150*time.Millisecond))
	tw.Flush()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
