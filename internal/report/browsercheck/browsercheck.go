// Package browsercheck loads an HTML page in headless Debian chromium
// over a loopback HTTP server and reports what a reader would see broken:
// console errors, images missing from the rendered DOM, images the
// browser could not fetch, and a blank render. Tests of the run report
// (and the end-to-end demo test) use it; it installs nothing.
package browsercheck

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultChromium is Debian's chromium (apt-get install -y chromium).
const DefaultChromium = "/usr/bin/chromium"

// Options controls Check.
type Options struct {
	// Chromium is the browser binary (default DefaultChromium).
	Chromium string
	// Timeout bounds each browser run (default 60 s).
	Timeout time.Duration
	// TempDir holds the browser profile and screenshot (default os.TempDir).
	TempDir string
}

// Result is what the browser saw.
type Result struct {
	// ConsoleErrors are the page's console messages and load errors from
	// chromium's log.
	ConsoleErrors []string
	// DOMImages are the src of every <img> in the rendered DOM, sorted.
	DOMImages []string
	// Fetched maps each requested URL path to its HTTP status.
	Fetched map[string]int
	// Colours is the number of distinct colours in a coarse sample of the
	// screenshot (a blank render has one or two).
	Colours int
}

// Problems lists what is wrong with a page expected to show wantImages
// (paths relative to the page's folder): console errors, images absent
// from the DOM or not fetched with status 200, a blank screenshot.
func (r *Result) Problems(wantImages []string) []string {
	var out []string
	for _, e := range r.ConsoleErrors {
		out = append(out, "console: "+e)
	}
	inDOM := map[string]bool{}
	for _, s := range r.DOMImages {
		inDOM[s] = true
	}
	for _, w := range wantImages {
		if !inDOM[w] {
			out = append(out, "image not in the rendered page: "+w)
		}
		if code, ok := r.Fetched["/"+w]; !ok || code != http.StatusOK {
			out = append(out, fmt.Sprintf("image %s: fetched=%t status %d", w, ok, code))
		}
	}
	for p, code := range r.Fetched {
		if code != http.StatusOK {
			out = append(out, fmt.Sprintf("%s: status %d", p, code))
		}
	}
	if r.Colours < 8 {
		out = append(out, fmt.Sprintf("screenshot has %d colours: blank page", r.Colours))
	}
	sort.Strings(out)
	return out
}

// Available reports whether the chromium binary exists.
func Available(path string) bool {
	if path == "" {
		path = DefaultChromium
	}
	_, err := os.Stat(path)
	return err == nil
}

// Check serves dir on 127.0.0.1 and loads dir/page in chromium twice:
// once dumping the DOM, once taking a screenshot.
func Check(ctx context.Context, dir, page string, opt Options) (*Result, error) {
	if opt.Chromium == "" {
		opt.Chromium = DefaultChromium
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 60 * time.Second
	}
	tmp, err := os.MkdirTemp(opt.TempDir, "kiln-browsercheck-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("browsercheck: %w", err)
	}
	res := &Result{Fetched: map[string]int{}}
	var mu sync.Mutex
	files := http.FileServer(http.Dir(dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		files.ServeHTTP(sw, r)
		if r.URL.Path == "/favicon.ico" {
			return // the browser asks for it on its own; the page never names it
		}
		mu.Lock()
		res.Fetched[r.URL.Path] = sw.code
		mu.Unlock()
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/" + page

	dom, stderr, err := run(ctx, opt, filepath.Join(tmp, "p1"), "--dump-dom", url)
	if err != nil {
		return nil, err
	}
	res.ConsoleErrors = consoleLine.FindAllString(stderr, -1)
	for _, m := range domImg.FindAllStringSubmatch(dom, -1) {
		res.DOMImages = append(res.DOMImages, m[1])
	}
	sort.Strings(res.DOMImages)
	shot := filepath.Join(tmp, "shot.png")
	_, stderr, err = run(ctx, opt, filepath.Join(tmp, "p2"), "--window-size=1200,2400", "--screenshot="+shot, url)
	if err != nil {
		return nil, err
	}
	res.ConsoleErrors = append(res.ConsoleErrors, consoleLine.FindAllString(stderr, -1)...)
	f, err := os.Open(shot)
	if err != nil {
		return nil, fmt.Errorf("browsercheck: screenshot: %w", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("browsercheck: screenshot %s: %w", shot, err)
	}
	res.Colours = colours(img)
	// Wait for the handlers to finish recording before res is read.
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	mu.Lock()
	defer mu.Unlock()
	return res, nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

// consoleLine picks the page's console messages and load failures out of
// chromium's log; browser-internal noise (D-Bus, GPU) is ignored.
var consoleLine = regexp.MustCompile(`(?m)^.*(CONSOLE|Uncaught|Failed to load resource|net::ERR_).*$`)

var domImg = regexp.MustCompile(`<img [^>]*src="([^"]+)"`)

func run(ctx context.Context, opt Options, profile string, extra ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + profile,
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"}
	cmd := exec.CommandContext(ctx, opt.Chromium, append(args, extra...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s := errb.String()
		if len(s) > 2000 {
			s = s[len(s)-2000:]
		}
		return "", "", fmt.Errorf("browsercheck: %s %s: %w\n%s", opt.Chromium, strings.Join(extra, " "), err, s)
	}
	return out.String(), errb.String(), nil
}

func colours(img image.Image) int {
	seen := map[[3]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 7 {
		for x := r.Min.X; x < r.Max.X; x += 7 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			seen[[3]uint32{cr >> 12, cg >> 12, cb >> 12}] = true
		}
	}
	return len(seen)
}
