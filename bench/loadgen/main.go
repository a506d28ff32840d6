// Command loadgen loads a KES server through github.com/minio/kms-go/kes, the client MinIO links, the
// way a MinIO node does: many goroutines sharing one kes.Client, and so one HTTP/2 connection, over
// mutual TLS. It runs one operation (generate or decrypt, MinIO's SSE PUT and GET) for a duration and
// prints one JSON line in the shape of `kesrs bench --json`, which bench/compare parses for both.
//
//	loadgen -server 127.0.0.1:7373 -cert client.crt -key client.key -ca server.crt -op generate
//
// With -noop the server is the no-op ceiling (`kesrs noop-server`): the same requests go out on the
// same client's HTTP/2 connection, and each must come back 200 with its fixed 32-byte body. kms-go's
// GenerateKey and Decrypt would refuse that body, so they are not called; the client then skips only
// the JSON encoding and decoding of the API call, which makes the ceiling, if anything, a little high.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/minio/kms-go/kes"
)

// objectContext is what every request binds its data key to, as `kesrs bench` sends it.
var objectContext = []byte(`{"bucket":"bench/object"}`)

// noopBodyLen is the size of the no-op server's answer to every request.
const noopBodyLen = 32

type options struct {
	server      string
	cert, key   string
	ca          string
	insecure    bool
	op          string
	concurrency int
	duration    time.Duration
	keyName     string
	noop        bool
}

func main() {
	var o options
	flag.StringVar(&o.server, "server", "", "the server, HOST:PORT")
	flag.StringVar(&o.cert, "cert", "", "the client certificate (PEM)")
	flag.StringVar(&o.key, "key", "", "the client certificate's private key (PEM)")
	flag.StringVar(&o.ca, "ca", "", "the CA (or self-signed certificate) that issued the server certificate (PEM)")
	flag.BoolVar(&o.insecure, "insecure", false, "do not verify the server certificate")
	flag.StringVar(&o.op, "op", "generate", "the operation: generate or decrypt")
	flag.IntVar(&o.concurrency, "concurrency", 32, "goroutines sharing the one client")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to run")
	flag.StringVar(&o.keyName, "name", "kesrs-bench", "the key to use; created if it does not exist")
	flag.BoolVar(&o.noop, "noop", false, "the server is the no-op ceiling: expect its fixed 32-byte body")
	flag.Parse()
	if err := run(&o); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	if o.server == "" || o.cert == "" || o.key == "" {
		return errors.New("-server, -cert and -key are required")
	}
	if o.ca == "" && !o.insecure {
		return errors.New("either -ca or -insecure is required")
	}
	if o.op != "generate" && o.op != "decrypt" {
		return fmt.Errorf("unknown -op %q: generate or decrypt", o.op)
	}
	if o.concurrency < 1 || o.duration <= 0 {
		return errors.New("-concurrency and -duration must be positive")
	}
	conf, err := tlsConfig(o)
	if err != nil {
		return err
	}
	client := kes.NewClientWithConfig("https://"+o.server, conf)
	request, err := prepare(o, client)
	if err != nil {
		return err
	}

	var (
		wg        sync.WaitGroup
		errs      atomic.Uint64
		firstErr  atomic.Pointer[error]
		latencies = make([][]time.Duration, o.concurrency)
	)
	cpuBefore, err := processCPU()
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(o.duration)
	for i := range latencies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine keeps its own latencies, so measuring takes no shared lock.
			own := make([]time.Duration, 0, 1<<14)
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := request(); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				own = append(own, time.Since(t0))
			}
			latencies[i] = own
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpuAfter, err := processCPU()
	if err != nil {
		return err
	}
	if err := firstErr.Load(); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %d requests failed, the first with: %v\n", errs.Load(), *err)
	}
	if err := report(o, slices.Concat(latencies...), errs.Load(), elapsed, cpuAfter-cpuBefore); err != nil {
		return err
	}
	if errs.Load() > 0 {
		os.Exit(1)
	}
	return nil
}

func tlsConfig(o *options) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.cert, o.key)
	if err != nil {
		return nil, fmt.Errorf("loading the client certificate: %w", err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: o.insecure}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("reading the CA: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", o.ca)
		}
	}
	return conf, nil
}

// prepare returns the request one goroutine sends again and again. Against a KES server it first
// creates the key and, for decrypt, a ciphertext to decrypt.
func prepare(o *options, c *kes.Client) (func() error, error) {
	ctx := context.Background()
	if o.noop {
		return noopRequest(o, c)
	}
	if err := c.CreateKey(ctx, o.keyName); err != nil && !errors.Is(err, kes.ErrKeyExists) {
		return nil, fmt.Errorf("creating the key %q: %w", o.keyName, err)
	}
	if o.op == "generate" {
		return func() error {
			dek, err := c.GenerateKey(ctx, o.keyName, objectContext)
			if err == nil && len(dek.Plaintext) != 32 {
				err = fmt.Errorf("a %d-byte data key", len(dek.Plaintext))
			}
			return err
		}, nil
	}
	dek, err := c.GenerateKey(ctx, o.keyName, objectContext)
	if err != nil {
		return nil, fmt.Errorf("preparing a ciphertext: %w", err)
	}
	return func() error {
		plaintext, err := c.Decrypt(ctx, o.keyName, dek.Ciphertext, objectContext)
		if err == nil && !bytes.Equal(plaintext, dek.Plaintext) {
			err = errors.New("decrypt returned another plaintext")
		}
		return err
	}, nil
}

// noopRequest sends what GenerateKey or Decrypt would send (the same method, path and JSON body, on
// the client's own HTTP/2 transport) and expects the no-op server's fixed answer.
func noopRequest(o *options, c *kes.Client) (func() error, error) {
	body := map[string][]byte{"context": objectContext}
	if o.op == "decrypt" {
		// As long as a KES ciphertext of a 32-byte data key; the no-op server never reads it.
		body["ciphertext"] = make([]byte, 76)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	url := "https://" + o.server + "/v1/key/" + o.op + "/" + o.keyName
	return func() error {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.HTTPClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(io.LimitReader(resp.Body, noopBodyLen+1))
		switch {
		case err != nil:
			return err
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("status %s", resp.Status)
		case len(answer) > noopBodyLen:
			return fmt.Errorf("a body of over %d bytes, the no-op server's fixed answer", noopBodyLen)
		case len(answer) < noopBodyLen:
			return fmt.Errorf("a %d-byte body where the no-op server sends %d bytes", len(answer), noopBodyLen)
		case resp.ProtoMajor != 2:
			return fmt.Errorf("%s where the client shares one HTTP/2 connection", resp.Proto)
		}
		return nil
	}, nil
}

// processCPU is the CPU time (user and system) this process has used so far: on a small machine the
// client's own cost per request bounds what any server can reach, so bench/compare prints it.
func processCPU() (time.Duration, error) {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()), nil
}

// report prints the run as `kesrs bench --json` does, and the client's CPU time during the run.
func report(o *options, latencies []time.Duration, errs uint64, elapsed, cpu time.Duration) error {
	slices.Sort(latencies)
	ms := func(q float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		i := min(int(q*float64(len(latencies))), len(latencies)-1)
		return float64(latencies[i].Microseconds()) / 1000
	}
	seconds := elapsed.Seconds()
	line, err := json.Marshal(map[string]any{
		"client":      "kms-go",
		"operation":   o.op,
		"concurrency": o.concurrency,
		"requests":    len(latencies),
		"errors":      errs,
		"seconds":     seconds,
		"throughput":  float64(len(latencies)) / seconds,
		"cpu_seconds": cpu.Seconds(),
		"latency_ms": map[string]float64{
			"p50":  ms(0.50),
			"p99":  ms(0.99),
			"p999": ms(0.999),
			"max":  ms(1),
		},
	})
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}
