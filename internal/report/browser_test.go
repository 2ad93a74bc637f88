package report

import (
	"bytes"
	"context"
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
	"testing"
	"time"
)

// chromiumPath is Debian's chromium. The test installs nothing: without it
// the test skips, except under CI=true where it fails (CI installs it).
const chromiumPath = "/usr/bin/chromium"

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must install Debian's chromium (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s not installed (apt-get install -y chromium); browser check skipped", chromiumPath)
	}
}

// servedLog is a loopback file server that records every request's
// status, so the test knows which images the browser actually fetched.
type servedLog struct {
	mu  sync.Mutex
	got map[string]int
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func serve(t *testing.T, dir string) (string, *servedLog) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lg := &servedLog{got: map[string]int{}}
	fs := http.FileServer(http.Dir(dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: 200}
		fs.ServeHTTP(sw, r)
		lg.mu.Lock()
		lg.got[r.URL.Path] = sw.code
		lg.mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), lg
}

// chromium runs one headless invocation and returns stdout and stderr.
func chromium(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"}
	cmd := exec.CommandContext(ctx, chromiumPath, append(args, extra...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, tail(errb.String(), 3000))
	}
	return out.String(), errb.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// consoleErrors picks the page's console messages and load failures out
// of chromium's log (browser-internal noise such as D-Bus is ignored).
var consoleLine = regexp.MustCompile(`(?m)^.*(CONSOLE|Uncaught|Failed to load resource|net::ERR_).*$`)

func consoleErrors(stderr string) []string { return consoleLine.FindAllString(stderr, -1) }

var domImg = regexp.MustCompile(`<img [^>]*src="([^"]+)"`)

// loadPage loads url in chromium and returns the rendered DOM's image
// sources, the console errors, and a screenshot.
func loadPage(t *testing.T, url string) (imgs []string, errs []string, shot image.Image) {
	t.Helper()
	dom, stderr := chromium(t, "--dump-dom", url)
	errs = consoleErrors(stderr)
	for _, m := range domImg.FindAllStringSubmatch(dom, -1) {
		imgs = append(imgs, m[1])
	}
	shotPath := filepath.Join(t.TempDir(), "shot.png")
	_, stderr = chromium(t, "--window-size=1200,2400", "--screenshot="+shotPath, url)
	errs = append(errs, consoleErrors(stderr)...)
	f, err := os.Open(shotPath)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	shot, err = png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return imgs, errs, shot
}

// colours counts distinct colours in a coarse sample of an image: a blank
// or failed render has one or two.
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

// TestReportInBrowser loads the demo-layout report in headless chromium
// over a loopback server: no console errors, every plot in the rendered
// DOM, every plot fetched with status 200, and a non-blank screenshot. A
// control page with a broken image and a console error must be caught by the
// same checks.
func TestReportInBrowser(t *testing.T) {
	needChromium(t)
	top := sharedChain(t)
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS(top)); err != nil {
		t.Fatal(err)
	}
	res, err := Write(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "broken.html"), []byte(`<!DOCTYPE html><html><head><title>x</title></head><body><img src="report-plots/missing.png" alt="x"><script>console.error("kiln-control-error")</script></body></html>`), 0o644)
	base, lg := serve(t, dir)

	t.Run("report", func(t *testing.T) {
		imgs, errs, shot := loadPage(t, base+"/"+FileName)
		if len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
		var want []string
		for _, p := range res.Plots {
			want = append(want, PlotDir+"/"+filepath.Base(p))
		}
		sort.Strings(want)
		sort.Strings(imgs)
		if strings.Join(imgs, " ") != strings.Join(want, " ") {
			t.Errorf("rendered DOM images:\n%v\nplots written:\n%v", imgs, want)
		}
		lg.mu.Lock()
		for _, w := range want {
			if code, ok := lg.got["/"+w]; !ok || code != 200 {
				t.Errorf("browser fetch of %s: requested=%t status %d", w, ok, code)
			}
		}
		lg.mu.Unlock()
		if n := colours(shot); n < 8 {
			t.Errorf("screenshot has %d colours: blank page?", n)
		}
	})
	t.Run("control: broken image is detected", func(t *testing.T) {
		_, errs, _ := loadPage(t, base+"/broken.html")
		lg.mu.Lock()
		code := lg.got["/report-plots/missing.png"]
		lg.mu.Unlock()
		if code != 404 {
			t.Errorf("missing image served with status %d, want 404", code)
		}
		// Chromium logs page console messages (not failed image loads) at
		// --v=0; the control proves the console check can see one.
		if !strings.Contains(strings.Join(errs, "\n"), "kiln-control-error") {
			t.Errorf("console check missed the control page's console.error; got %q", errs)
		}
	})
}
