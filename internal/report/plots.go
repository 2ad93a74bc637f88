package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// plotter writes PNG plots into one folder and remembers their names.
type plotWriter struct {
	dir   string // absolute folder of the PNGs
	rel   string // the folder as the page refers to it
	files []string
}

// Plot sizes: wide enough to read on a laptop screen at 1x.
const (
	plotW = 8 * vg.Inch
	plotH = 3.6 * vg.Inch
)

type series struct {
	Name string
	XY   plotter.XYs
}

type boundary struct {
	X    float64
	Name string
}

func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

// finite drops points whose x or y is NaN or infinite: the plot library
// cannot place them, and the alarms table reports them instead.
func finite(xy plotter.XYs) plotter.XYs {
	out := make(plotter.XYs, 0, len(xy))
	for _, p := range xy {
		if !math.IsNaN(p.X) && !math.IsInf(p.X, 0) && !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0) {
			out = append(out, p)
		}
	}
	return out
}

// lines draws one or more series against a shared x axis, with dashed
// vertical lines at the stage boundaries. It returns the page-relative
// file name, or "" when no series has a finite point.
func (w *plotWriter) lines(name, title, xlabel, ylabel string, ss []series, bounds []boundary, points bool) (string, error) {
	p := newPlot(title, xlabel, ylabel)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	any := false
	for i, s := range ss {
		xy := finite(s.XY)
		if len(xy) == 0 {
			continue
		}
		any = true
		for _, q := range xy {
			ymin, ymax = math.Min(ymin, q.Y), math.Max(ymax, q.Y)
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return "", fmt.Errorf("plot %s: %w", name, err)
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		if points || len(xy) == 1 {
			sc, err := plotter.NewScatter(xy)
			if err != nil {
				return "", fmt.Errorf("plot %s: %w", name, err)
			}
			sc.Color = plotutil.Color(i)
			sc.Shape = draw.CircleGlyph{}
			p.Add(sc)
		}
		if len(ss) > 1 || s.Name != "" {
			p.Legend.Add(s.Name, l)
		}
	}
	if !any {
		return "", nil
	}
	if ymin == ymax {
		ymin, ymax = ymin-1, ymax+1
	}
	// Room above the data for the stage labels and the legend.
	p.Y.Max = math.Max(p.Y.Max, ymax+0.1*(ymax-ymin))
	for i, b := range bounds {
		l, err := plotter.NewLine(plotter.XYs{{X: b.X, Y: ymin}, {X: b.X, Y: ymax}})
		if err != nil {
			return "", err
		}
		l.Color = color.Gray{Y: 90}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		if i == 0 {
			p.Legend.Add("stage start", l)
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: b.X, Y: ymax}}, Labels: []string{" " + b.Name}})
		if err != nil {
			return "", err
		}
		p.Add(lb)
	}
	return w.save(p, name)
}

// bars draws grouped bars: one group per category, one bar per series.
func (w *plotWriter) bars(name, title, ylabel string, cats []string, ss []struct {
	Name   string
	Values []float64
}) (string, error) {
	if len(cats) == 0 || len(ss) == 0 {
		return "", nil
	}
	p := newPlot(title, "", ylabel)
	width := vg.Points(math.Max(6, math.Min(40, 360/float64(len(cats)*len(ss)))))
	for i, s := range ss {
		vals := make(plotter.Values, len(cats))
		for j := range cats {
			if j < len(s.Values) && !math.IsNaN(s.Values[j]) && !math.IsInf(s.Values[j], 0) {
				vals[j] = s.Values[j]
			}
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return "", fmt.Errorf("plot %s: %w", name, err)
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(i)-float64(len(ss)-1)/2) * width
		p.Add(b)
		if len(ss) > 1 {
			p.Legend.Add(s.Name, b)
		}
	}
	p.NominalX(cats...)
	// Half a slot of room either side so the outer groups are not cut.
	p.X.Min, p.X.Max = -0.5, float64(len(cats))-0.5
	if len(cats) > 4 {
		p.X.Tick.Label.Rotation = math.Pi / 8
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	p.Y.Min = 0
	p.Y.Max *= 1.08 // room for the legend above the tallest bar
	return w.save(p, name)
}

func (w *plotWriter) save(p *plot.Plot, name string) (string, error) {
	file := name + ".png"
	if err := p.Save(plotW, plotH, filepath.Join(w.dir, file)); err != nil {
		return "", fmt.Errorf("save plot %s: %w", file, err)
	}
	w.files = append(w.files, file)
	return w.rel + "/" + file, nil
}
