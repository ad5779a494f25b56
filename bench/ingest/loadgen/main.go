// loadgen sends signed Stripe checkout.session.completed webhooks (each a new event and a new
// customer) to a URL, either as fast as N connections allow (closed loop) or at a fixed rate
// (open loop, so a slow server cannot hide its latency), and prints throughput and latency
// percentiles. Bounded in time; only loopback targets are accepted.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func event() []byte {
	id, cus := randomHex(12), randomHex(7)
	now := time.Now().Unix()
	return []byte(fmt.Sprintf(`{"id":"evt_%s","object":"event","type":"checkout.session.completed",`+
		`"created":%d,"api_version":"2026-06-24.dahlia","livemode":false,"data":{"object":{`+
		`"id":"cs_test_%s","object":"checkout.session","mode":"subscription","payment_status":"paid",`+
		`"customer":"cus_%s","customer_details":{"email":"bench.%s@example.com","name":"Bench"},`+
		`"subscription":"sub_%s"}}}`, id, now, id, cus, cus, cus))
}

func sign(body []byte, secret string) string {
	t := time.Now().Unix()
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", t)
	mac.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(mac.Sum(nil)))
}

type result struct {
	latency time.Duration
	ok      bool
}

func main() {
	target := flag.String("url", "", "endpoint to load (loopback only)")
	secret := flag.String("secret", "whsec_local_dev_only", "signing secret")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	rate := flag.Int("rate", 0, "requests per second (0 = closed loop, as fast as possible)")
	conns := flag.Int("connections", 32, "concurrent connections")
	label := flag.String("label", "", "name printed with the figures")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || !(strings.HasPrefix(u.Hostname(), "127.") || u.Hostname() == "localhost") {
		fmt.Fprintln(os.Stderr, "error: -url must be a loopback http URL")
		os.Exit(2)
	}
	if *duration > 5*time.Minute {
		fmt.Fprintln(os.Stderr, "error: -duration is capped at 5m")
		os.Exit(2)
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns},
	}
	results := make(chan result, 1<<20)
	var sent atomic.Int64
	send := func() {
		body := event()
		req, _ := http.NewRequest(http.MethodPost, *target, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", sign(body, *secret))
		start := time.Now()
		resp, err := client.Do(req)
		ok := err == nil && resp.StatusCode == 200
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		results <- result{time.Since(start), ok}
	}
	deadline := time.Now().Add(*duration)
	began := time.Now()
	var wg sync.WaitGroup
	if *rate == 0 {
		for i := 0; i < *conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					sent.Add(1)
					send()
				}
			}()
		}
	} else {
		slots := make(chan struct{}, *conns*8) // bound in-flight requests
		interval := time.Second / time.Duration(*rate)
		next := time.Now()
		for next.Before(deadline) {
			time.Sleep(time.Until(next))
			slots <- struct{}{}
			wg.Add(1)
			sent.Add(1)
			go func() { defer wg.Done(); send(); <-slots }()
			next = next.Add(interval)
		}
	}
	wg.Wait()
	elapsed := time.Since(began)
	close(results)
	var lat []time.Duration
	failed := 0
	for r := range results {
		if !r.ok {
			failed++
			continue
		}
		lat = append(lat, r.latency)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
	}
	mode := "closed loop"
	if *rate > 0 {
		mode = fmt.Sprintf("open loop at %d/s", *rate)
	}
	fmt.Printf("%-28s %-20s sent=%d ok=%d failed=%d  %.0f ok/s  p50=%.1fms p95=%.1fms p99=%.1fms max=%.1fms\n",
		*label, mode, sent.Load(), len(lat), failed, float64(len(lat))/elapsed.Seconds(),
		pct(0.50), pct(0.95), pct(0.99), pct(1.0))
}
