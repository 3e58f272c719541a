// go-server: the Go test target of numaload, a per-request HTTP server in two builds from this
// one source tree.
//
//	pure (CGO_ENABLED=0 go build):          the handler spins -work-us µs of CPU per request
//	cgo  (go build -tags cgoblock, needs a C compiler): the handler also calls a C function
//	                                        that blocks -block-us µs (default 1000) in nanosleep
//
// A goroutine blocked in a C call holds its OS thread, so under concurrent requests the cgo
// build grows threads far beyond GOMAXPROCS (watch go_threads); the pure build stays near it.
//
// Endpoints:
//
//	/          the work; 200 "ok\n" (any other path not listed here: 404)
//	/echo      no work; 200 "METHOD BODY_BYTES\n", e.g. "POST 64"
//	/healthz   200 "ok\n"
//	/metrics   Prometheus text: go_goroutines, go_threads (entries of /proc/self/task),
//	           go_gomaxprocs, go_cgo_calls_total, http_requests_total (requests to / and /echo
//	           and unknown paths; /healthz and /metrics are not counted)
//
// With -tls-cert and -tls-key (PEM files) it serves TLS instead of clear text, and the standard
// library negotiates HTTP/2 ("h2") or HTTP/1.1 by ALPN, as every Go service does.
//
// Prints "go-server listening on ADDR" on stdout once listening (ADDR is the bound address, so
// "-listen 127.0.0.1:0" shows the port chosen), one start-up line with GOMAXPROCS on stderr,
// and exits 0 on SIGTERM or SIGINT after in-flight requests finish (at most 1 s).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

var requests atomic.Uint64

func main() {
	listen := flag.String("listen", "", "address to listen on, e.g. 127.0.0.1:8080 (required)")
	workUs := flag.Int64("work-us", 0, "CPU spin per request to /, in microseconds")
	blockUs := flag.Int64("block-us", defaultBlockUs,
		"how long the C call blocks per request to /, in microseconds (cgo build only)")
	tlsCert := flag.String("tls-cert", "", "serve TLS with this certificate chain (PEM); needs -tls-key")
	tlsKey := flag.String("tls-key", "", "the private key (PEM) of -tls-cert")
	flag.Parse()
	if *listen == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "go-server: usage: go-server -listen ADDR [-work-us N] [-block-us N] [-tls-cert FILE -tls-key FILE]")
		os.Exit(2)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(os.Stderr, "go-server: -tls-cert and -tls-key go together")
		os.Exit(2)
	}
	if *workUs < 0 || *workUs > 1_000_000 || *blockUs < 0 || *blockUs > 1_000_000 {
		fmt.Fprintln(os.Stderr, "go-server: -work-us and -block-us must be within 0..=1000000")
		os.Exit(2)
	}
	if !cgoBlock && *blockUs != 0 {
		fmt.Fprintln(os.Stderr, "go-server: -block-us needs the cgo build (go-server-cgo, -tags cgoblock)")
		os.Exit(2)
	}
	work := time.Duration(*workUs) * time.Microsecond
	block := time.Duration(*blockUs) * time.Microsecond

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		spin(work)
		if block > 0 {
			blockInC(block)
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %d\n", r.Method, n)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/metrics", metrics)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-server: %v\n", err)
		os.Exit(1)
	}
	build := "pure"
	if cgoBlock {
		build = "cgoblock"
	}
	fmt.Fprintf(os.Stderr, "go-server: GOMAXPROCS=%d NumCPU=%d build=%s work_us=%d block_us=%d pid=%d\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), build, *workUs, *blockUs, os.Getpid())
	fmt.Printf("go-server listening on %s\n", ln.Addr())

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	served := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			served <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		fmt.Fprintf(os.Stderr, "go-server: %v\n", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "go-server: %v\n", err)
	}
	fmt.Fprintln(os.Stderr, "go-server: stopped")
}

// spin burns CPU on this goroutine's thread for d (no sleeping, no yielding on purpose).
func spin(d time.Duration) {
	if d <= 0 {
		return
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
	}
}

// osThreads is the process's current OS thread count: the entries of /proc/self/task, or
// where that cannot be read, the threads ever created (which never falls).
func osThreads() int {
	if f, err := os.Open("/proc/self/task"); err == nil {
		names, err := f.Readdirnames(-1)
		f.Close()
		if err == nil {
			return len(names)
		}
	}
	return pprof.Lookup("threadcreate").Count()
}

func metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b []byte
	put := func(name, kind, help string, value uint64) {
		b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" "+kind+"\n"+name+" "...)
		b = strconv.AppendUint(b, value, 10)
		b = append(b, '\n')
	}
	put("go_goroutines", "gauge", "Number of goroutines that currently exist.", uint64(runtime.NumGoroutine()))
	put("go_threads", "gauge", "Number of OS threads of the process (entries of /proc/self/task).", uint64(osThreads()))
	put("go_gomaxprocs", "gauge", "runtime.GOMAXPROCS(0).", uint64(runtime.GOMAXPROCS(0)))
	put("go_cgo_calls_total", "counter", "Calls into C made by the process.", uint64(runtime.NumCgoCall()))
	put("http_requests_total", "counter", "Requests to / and /echo (and unknown paths) since start.", requests.Load())
	w.Write(b)
}
