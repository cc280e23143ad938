package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

func built(t *testing.T) []Built {
	t.Helper()
	all, err := All()
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	if len(all) != 2 {
		t.Fatalf("All returned %d dashboards, want 2", len(all))
	}
	return all
}

// committed decodes a committed dashboard file with Decode.
func committed(t *testing.T, file string) (dashboard.Dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read committed dashboard: %v", err)
	}
	d, err := Decode(raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return d, raw
}

func TestCommittedFilesAreGenerated(t *testing.T) {
	for _, b := range built(t) {
		t.Run(b.File, func(t *testing.T) {
			want, err := Encode(b.Dashboard)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(b.File)
			if err != nil {
				t.Fatalf("%v; run `go generate ./dashboards`", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what the generator writes; run `go generate ./dashboards` and commit the result", b.File)
			}
		})
	}
}

func TestCommittedFilesRoundTrip(t *testing.T) {
	for _, b := range built(t) {
		t.Run(b.File, func(t *testing.T) {
			d, raw := committed(t, b.File)
			if err := d.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			// Nothing may be lost in the SDK's types: encoding the decoded
			// dashboard gives the same JSON document.
			again, err := Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoding and encoding %s changes it", b.File)
			}
		})
	}
}

func TestQueriesParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, b := range built(t) {
		t.Run(b.File, func(t *testing.T) {
			qs := Queries(b.Dashboard)
			// Every panel but the rows has a query, and so do the three
			// query variables.
			if want := panels(b.Dashboard) + 3; len(qs) < want {
				t.Fatalf("Queries returned %d expressions, want at least %d", len(qs), want)
			}
			for _, q := range qs {
				e := Expand(q)
				if strings.Contains(e, "$") {
					t.Errorf("Expand left a variable in %q", e)
				}
				if _, err := p.ParseExpr(e); err != nil {
					t.Errorf("does not parse: %v\n%s", err, e)
				}
			}
		})
	}
}

// TestQueriesSelectByVariables checks that every raw series a panel or the
// annotation reads is narrowed by the job and instance variables, so that
// the variables mean what they say; recording rules are fleet-wide.
func TestQueriesSelectByVariables(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, b := range built(t) {
		t.Run(b.File, func(t *testing.T) {
			qs := panelQueries(b.Dashboard)
			for _, a := range b.Dashboard.Annotations.List {
				qs = append(qs, deref(a.Expr))
			}
			for _, q := range qs {
				expr, err := p.ParseExpr(Expand(q))
				if err != nil {
					t.Fatalf("does not parse: %v\n%s", err, q)
				}
				parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
					vs, ok := n.(*parser.VectorSelector)
					if !ok || strings.Contains(vs.Name, ":") {
						return nil
					}
					for _, label := range []string{"job", "instance"} {
						if !hasAll(vs.LabelMatchers, label) {
							t.Errorf("%s is not selected by %s=~\"$%s\" in\n%s", vs.Name, label, label, q)
						}
					}
					return nil
				})
			}
		})
	}
}

// hasAll reports whether the matchers hold label=~".+", the expansion of a
// variable matcher.
func hasAll(ms []*labels.Matcher, label string) bool {
	for _, m := range ms {
		if m.Name == label && m.Type == labels.MatchRegexp && m.Value == ".+" {
			return true
		}
	}
	return false
}

func panels(d dashboard.Dashboard) int {
	n := 0
	for _, p := range d.Panels {
		if p.Panel != nil {
			n++
		}
	}
	return n
}

func TestPanelsAreDocumented(t *testing.T) {
	for _, b := range built(t) {
		t.Run(b.File, func(t *testing.T) {
			// The committed file is what users import: check it, decoded.
			d, _ := committed(t, b.File)
			ids := map[uint32]bool{}
			for _, pr := range d.Panels {
				if pr.RowPanel != nil {
					continue
				}
				p := pr.Panel
				title := deref(p.Title)
				if p.Id == nil || ids[*p.Id] {
					t.Errorf("%q: missing or duplicate id", title)
				} else {
					ids[*p.Id] = true
				}
				if strings.TrimSpace(deref(p.Description)) == "" {
					t.Errorf("%q: no description", title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%q: no query", title)
				}
				if p.FieldConfig == nil || deref(p.FieldConfig.Defaults.Unit) == "" {
					t.Errorf("%q: no unit", title)
				}
				if p.FieldConfig == nil || p.FieldConfig.Defaults.Thresholds == nil {
					t.Errorf("%q: no thresholds", title)
				}
				if p.Type != "timeseries" {
					continue
				}
				o, ok := p.Options.(*timeseries.Options)
				if !ok {
					t.Fatalf("%q: options decoded as %T", title, p.Options)
				}
				l := o.Legend
				if !l.ShowLegend || (l.DisplayMode != "list" && l.DisplayMode != "table") || l.Placement != "bottom" {
					t.Errorf("%q: legend %+v, want shown as a list or table at the bottom", title, l)
				}
			}
		})
	}
}

func TestDashboardIdentity(t *testing.T) {
	tests := []struct {
		file, uid, title string
	}{
		{KeyRotationFile, "jwtwatch-key-rotation", "jwtwatch / Key rotation"},
		{SidecarHealthFile, "jwtwatch-sidecar-health", "jwtwatch / Sidecar health"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d, _ := committed(t, tt.file)
			if got := deref(d.Uid); got != tt.uid {
				t.Errorf("uid = %q, want %q", got, tt.uid)
			}
			if got := deref(d.Title); got != tt.title {
				t.Errorf("title = %q, want %q", got, tt.title)
			}
			if !reflect.DeepEqual(d.Tags, []string{"jwtwatch"}) {
				t.Errorf("tags = %q, want [jwtwatch]", d.Tags)
			}
			vars := map[string]dashboard.VariableModel{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
			}
			if v, ok := vars["datasource"]; !ok || v.Type != dashboard.VariableTypeDatasource || deref(v.Query.String) != "prometheus" {
				t.Errorf("no datasource variable of type prometheus")
			}
			for _, name := range []string{"job", "instance", "token"} {
				v, ok := vars[name]
				if !ok {
					t.Errorf("no %s variable", name)
					continue
				}
				if v.Type != dashboard.VariableTypeQuery || !deref(v.Multi) || !deref(v.IncludeAll) {
					t.Errorf("%s: want a multi-value query variable with All", name)
				}
			}
		})
	}
}

func TestRotationAnnotation(t *testing.T) {
	d, _ := committed(t, KeyRotationFile)
	for _, a := range d.Annotations.List {
		if strings.Contains(deref(a.Expr), "jwtwatch_rotation_started_timestamp_seconds") && deref(a.UseValueForTime) {
			return
		}
	}
	t.Error("no annotation placed at jwtwatch_rotation_started_timestamp_seconds")
}

func TestQueries(t *testing.T) {
	d, err := dashboard.NewDashboardBuilder("t").
		Variables(variables()).
		Annotation(dashboard.NewAnnotationQueryBuilder().Name("a").Expr("vector(1)")).
		WithPanel(timeseriesPanel("p", "d", "s").WithTarget(query("A", "up", ""))).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"up",
		"jwtwatch_build_info",
		`jwtwatch_build_info{job=~"$job"}`,
		"jwtwatch_key_info",
		"vector(1)",
	}
	if got := Queries(d); !reflect.DeepEqual(got, want) {
		t.Errorf("Queries = %q, want %q", got, want)
	}
}

func TestVariableExpr(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"label values", `label_values(jwtwatch_build_info{job=~"$job", x="a,b"}, instance)`, `jwtwatch_build_info{job=~"$job", x="a,b"}`},
		{"label values without selector", `label_values(job)`, ""},
		{"query result", `query_result(sum by (job) (up))`, `sum by (job) (up)`},
		{"plain expression", ` up `, `up`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := variableExpr(tt.in); got != tt.want {
				t.Errorf("variableExpr(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"variables", `x{job=~"$job", instance=~"${instance}", token=~"$token|"}`, `x{job=~".+", instance=~".+", token=~".+|"}`},
		{"rate interval", `rate(x[$__rate_interval]) + rate(x[${__rate_interval}])`, `rate(x[1m]) + rate(x[1m])`},
		{"interval", `rate(x[$__interval]) * $__interval_ms`, `rate(x[1m]) * 60000`},
		{"range", `increase(x[$__range]) / $__range_s + ${__range_ms}`, `increase(x[1h]) / 3600 + 3600000`},
		{"unknown left alone", `x{a=~"$other"}`, `x{a=~"$other"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.in); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	raw, err := os.ReadFile(KeyRotationFile)
	if err != nil {
		t.Fatal(err)
	}
	// firstOf returns the first panel of a type, as decoded JSON.
	firstOf := func(d map[string]any, typ string) map[string]any {
		for _, p := range d["panels"].([]any) {
			if p := p.(map[string]any); p["type"] == typ {
				return p
			}
		}
		t.Fatalf("no %s panel", typ)
		return nil
	}
	tests := []struct {
		name   string
		mutate func(d map[string]any)
	}{
		{"unknown top-level field", func(d map[string]any) { d["bogus"] = 1 }},
		{"unknown field in a query", func(d map[string]any) {
			firstOf(d, "stat")["targets"].([]any)[0].(map[string]any)["exprr"] = "up"
		}},
		{"unknown panel option", func(d map[string]any) {
			firstOf(d, "timeseries")["options"].(map[string]any)["legendd"] = true
		}},
		{"missing legend", func(d map[string]any) {
			delete(firstOf(d, "timeseries")["options"].(map[string]any), "legend")
		}},
		{"null table footer reducer", func(d map[string]any) {
			firstOf(d, "table")["options"].(map[string]any)["footer"].(map[string]any)["reducer"] = nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			tt.mutate(d)
			bad, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Decode(bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode = %v, want ErrInvalid", err)
			}
		})
	}
}
