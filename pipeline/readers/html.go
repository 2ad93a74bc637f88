package readers

import (
	"bytes"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// skipElements hold no readable body text: code, styling, embedded media,
// form controls, and navigation/boilerplate containers.
var skipElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Svg: true, atom.Iframe: true, atom.Object: true, atom.Embed: true, atom.Canvas: true,
	atom.Nav: true, atom.Aside: true, atom.Select: true, atom.Button: true, atom.Textarea: true,
	atom.Audio: true, atom.Video: true, atom.Map: true,
}

// blockElements end the current line when they open or close.
var blockElements = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Blockquote: true, atom.Body: true, atom.Br: true,
	atom.Caption: true, atom.Center: true, atom.Dd: true, atom.Details: true, atom.Dialog: true,
	atom.Div: true, atom.Dl: true, atom.Dt: true, atom.Fieldset: true, atom.Figcaption: true,
	atom.Figure: true, atom.Footer: true, atom.Form: true, atom.H1: true, atom.H2: true, atom.H3: true,
	atom.H4: true, atom.H5: true, atom.H6: true, atom.Header: true, atom.Hr: true, atom.Li: true,
	atom.Main: true, atom.Ol: true, atom.P: true, atom.Pre: true, atom.Section: true, atom.Summary: true,
	atom.Table: true, atom.Tbody: true, atom.Thead: true, atom.Tfoot: true, atom.Tr: true, atom.Ul: true,
	atom.Html: true, atom.Legend: true, atom.Option: true,
}

// HTMLText extracts readable text from an HTML document: the content of
// script, style, navigation and similar elements is dropped, block
// elements end lines, table cells are separated by tabs, whitespace runs
// collapse to one space (kept verbatim inside <pre>), and entities are
// decoded. It also returns the <title>. The input must be UTF-8.
func HTMLText(r io.Reader) (text, title string) {
	z := html.NewTokenizer(r)
	var ex extractor
	var skipAtom atom.Atom // element being skipped, 0 when none
	var skipName string    // its name when it is not a known atom
	skipDepth := 0
	inTitle := false
	var titleBuf strings.Builder
	pre := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			ex.endLine()
			return strings.TrimSpace(ex.out.String()), collapseSpace(titleBuf.String())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			hidden := false
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch string(k) {
				case "hidden":
					hidden = true
				case "aria-hidden":
					hidden = hidden || string(v) == "true"
				case "role":
					hidden = hidden || string(v) == "navigation"
				}
			}
			if skipDepth > 0 {
				if tt == html.StartTagToken && a == skipAtom && string(name) == skipName {
					skipDepth++
				}
				continue
			}
			if a == atom.Title && tt == html.StartTagToken {
				inTitle = true
				continue
			}
			if tt == html.StartTagToken && !isVoid(a) && (skipElements[a] || hidden) {
				skipAtom, skipName, skipDepth = a, string(name), 1
				continue
			}
			switch {
			case a == atom.Td || a == atom.Th:
				ex.cell()
			case a == atom.Pre:
				ex.endLine()
				if tt == html.StartTagToken {
					pre++
				}
			case a == atom.Img:
				// images carry no text; alt text is often filler
			case blockElements[a]:
				ex.endLine()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipDepth > 0 {
				if a == skipAtom && string(name) == skipName {
					skipDepth--
				}
				continue
			}
			if a == atom.Title {
				inTitle = false
				continue
			}
			if a == atom.Pre && pre > 0 {
				ex.endPreLine()
				pre--
			}
			if blockElements[a] || a == atom.Pre {
				ex.endLine()
			}
		case html.TextToken:
			if skipDepth > 0 {
				continue
			}
			if inTitle {
				titleBuf.Write(z.Text())
				continue
			}
			if pre > 0 {
				ex.preText(z.Text())
			} else {
				ex.text(z.Text())
			}
		}
	}
}

// isVoid reports elements that never have an end tag, so they cannot open
// a skipped region.
func isVoid(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Base, atom.Br, atom.Col, atom.Embed, atom.Hr, atom.Img, atom.Input,
		atom.Link, atom.Meta, atom.Source, atom.Track, atom.Wbr:
		return true
	}
	return false
}

// extractor accumulates lines of text.
type extractor struct {
	out       strings.Builder
	line      []byte
	needSpace bool
}

func (e *extractor) text(b []byte) {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if unicode.IsSpace(r) {
			e.needSpace = len(e.line) > 0
			continue
		}
		if e.needSpace {
			e.line = append(e.line, ' ')
			e.needSpace = false
		}
		e.line = utf8.AppendRune(e.line, r)
	}
}

func (e *extractor) preText(b []byte) {
	lines := bytes.Split(b, []byte{'\n'})
	for i, l := range lines {
		if i > 0 {
			e.endPreLine()
		}
		e.line = append(e.line, bytes.TrimRight(l, " \t\r")...)
	}
}

// endPreLine ends a line inside <pre>, keeping its indentation.
func (e *extractor) endPreLine() {
	l := bytes.TrimRight(e.line, " \t\r")
	if len(bytes.TrimSpace(l)) > 0 {
		if e.out.Len() > 0 {
			e.out.WriteByte('\n')
		}
		e.out.Write(l)
	}
	e.line = e.line[:0]
	e.needSpace = false
}

func (e *extractor) cell() {
	if len(e.line) > 0 {
		e.line = append(e.line, '\t')
	}
	e.needSpace = false
}

func (e *extractor) endLine() {
	l := bytes.TrimSpace(e.line)
	if len(l) > 0 {
		if e.out.Len() > 0 {
			e.out.WriteByte('\n')
		}
		e.out.Write(l)
	}
	e.line = e.line[:0]
	e.needSpace = false
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
