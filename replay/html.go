package replay

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"io"
	"strconv"
)

//go:embed report.html
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"json": func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			return "?"
		}
		return string(b)
	},
	"pct": func(n, of int) string {
		if of == 0 {
			return "0"
		}
		return formatPct(float64(n) * 100 / float64(of))
	},
}).Parse(reportHTML))

// WriteHTML writes report.html: one static page, styles inline, no
// script, that a product owner can read.
func (r *Report) WriteHTML(w io.Writer) error { return reportTemplate.Execute(w, r) }

func formatPct(p float64) string {
	switch {
	case p == 0:
		return "0"
	case p < 0.1:
		return "<0.1"
	case p < 10:
		return strconv.FormatFloat(p, 'f', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 0, 64)
}
