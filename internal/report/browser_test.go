package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnlm/kiln/internal/report/browsercheck"
)

// needChromium skips without Debian's chromium, except under CI=true
// where it fails (CI installs it). The test installs nothing.
func needChromium(t *testing.T) {
	t.Helper()
	if !browsercheck.Available("") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; CI must install Debian's chromium (apt-get install -y chromium)", browsercheck.DefaultChromium)
		}
		t.Skipf("%s not installed (apt-get install -y chromium); browser check skipped", browsercheck.DefaultChromium)
	}
}

// TestReportInBrowser loads the demo-layout report in headless chromium
// over a loopback server: no console errors, every plot in the rendered
// DOM, every plot fetched with status 200, and a non-blank screenshot. A
// control page with a broken image and a console error must be caught by
// the same checks.
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
	var want []string
	for _, p := range res.Plots {
		want = append(want, PlotDir+"/"+filepath.Base(p))
	}
	if len(want) < 12 {
		t.Fatalf("only %d plots", len(want))
	}
	ctx := context.Background()
	opt := browsercheck.Options{TempDir: t.TempDir()}

	t.Run("report", func(t *testing.T) {
		br, err := browsercheck.Check(ctx, dir, FileName, opt)
		if err != nil {
			t.Fatal(err)
		}
		if p := br.Problems(want); len(p) > 0 {
			t.Errorf("report in the browser:\n%s", strings.Join(p, "\n"))
		}
		if len(br.DOMImages) != len(want) {
			t.Errorf("%d images rendered, %d plots written", len(br.DOMImages), len(want))
		}
	})
	t.Run("control page is caught", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "broken.html"), []byte(`<!DOCTYPE html><html><head><title>x</title></head><body>`+
			`<img src="report-plots/missing.png" alt="x"><script>console.error("kiln-control-error")</script></body></html>`), 0o644)
		br, err := browsercheck.Check(ctx, dir, "broken.html", opt)
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Join(br.Problems([]string{"report-plots/missing.png", want[0]}), "\n")
		// Chromium logs page console messages (not failed image loads) at
		// --v=0; the control proves each check can fire. (Its screenshot
		// is nearly blank too, but a broken-image icon's colours vary by
		// chromium version, so that check is not asserted here.)
		for _, must := range []string{"kiln-control-error", "report-plots/missing.png: status 404", "image not in the rendered page: " + want[0]} {
			if !strings.Contains(p, must) {
				t.Errorf("control problems lack %q:\n%s", must, p)
			}
		}
	})
}
