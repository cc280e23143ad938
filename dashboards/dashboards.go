// Package dashboards builds jwtwatch's Grafana dashboards as code with the
// grafana-foundation-sdk; ./gen writes them as the committed JSON files.
package dashboards

//go:generate go run ./gen

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Stable identities: links, bookmarks and provisioning depend on them.
const (
	KeyRotationUID    = "jwtwatch-key-rotation"
	SidecarHealthUID  = "jwtwatch-sidecar-health"
	KeyRotationFile   = "key-rotation.json"
	SidecarHealthFile = "sidecar-health.json"
)

// ErrInvalid is returned by Decode for JSON that is not a valid dashboard.
var ErrInvalid = errors.New("invalid dashboard")

// Built is one generated dashboard and the file name it is committed under.
type Built struct {
	File      string
	Dashboard dashboard.Dashboard
}

// All builds every jwtwatch dashboard.
func All() ([]Built, error) {
	kr, err := keyRotation()
	if err != nil {
		return nil, fmt.Errorf("key rotation dashboard: %w", err)
	}
	sh, err := sidecarHealth()
	if err != nil {
		return nil, fmt.Errorf("sidecar health dashboard: %w", err)
	}
	return []Built{
		{File: KeyRotationFile, Dashboard: kr},
		{File: SidecarHealthFile, Dashboard: sh},
	}, nil
}

// Encode renders a dashboard exactly as it is committed: indented with two
// spaces and ending in a newline.
func Encode(d dashboard.Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode dashboard %q: %w", deref(d.Uid), err)
	}
	return append(b, '\n'), nil
}

// Decode reads a dashboard JSON file: it fails on anything the SDK's strict
// decoding rejects (unknown or missing fields, at every level, panel options
// and queries included) and returns the dashboard decoded.
//
// The SDK's strict decoding (v0.0.22) is used only as a check: it reports
// errors faithfully, but it returns an empty, non-nil error list on success,
// and because of that drops every panel, query and panel option it decodes.
// The value comes from the SDK's lenient decoding, which keeps them.
func Decode(raw []byte) (dashboard.Dashboard, error) {
	// The registry tells the SDK each panel's options type and each query's
	// type; registering again is harmless.
	plugins.RegisterDefaultPlugins()
	var strict dashboard.Dashboard
	if err := strict.UnmarshalJSONStrict(raw); err != nil {
		if be, ok := err.(cog.BuildErrors); !ok || len(be) > 0 {
			return dashboard.Dashboard{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	var d dashboard.Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return d, nil
}

// Queries returns every PromQL expression of a dashboard, still holding
// Grafana's template variables (see Expand): each panel target in panel order,
// then each query variable, then each annotation query. A variable query
// label_values(SELECTOR, LABEL) is returned as SELECTOR, the series query
// Grafana runs for it, and query_result(EXPR) as EXPR.
func Queries(d dashboard.Dashboard) []string {
	qs := panelQueries(d)
	for _, v := range d.Templating.List {
		if v.Type != dashboard.VariableTypeQuery || v.Query == nil {
			continue
		}
		q := deref(v.Query.String)
		if s, ok := v.Query.Map["query"].(string); ok && q == "" {
			q = s
		}
		if q = variableExpr(q); q != "" {
			qs = append(qs, q)
		}
	}
	for _, a := range d.Annotations.List {
		if e := deref(a.Expr); e != "" {
			qs = append(qs, e)
		} else if e := targetExpr(a.Target); e != "" {
			qs = append(qs, e)
		}
	}
	return qs
}

// panelQueries returns the expressions of every panel target, rows included.
func panelQueries(d dashboard.Dashboard) []string {
	var qs []string
	add := func(p dashboard.Panel) {
		for _, t := range p.Targets {
			if e := targetExpr(t); e != "" {
				qs = append(qs, e)
			}
		}
	}
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			add(*p.Panel)
		case p.RowPanel != nil:
			for _, rp := range p.RowPanel.Panels {
				add(rp)
			}
		}
	}
	return qs
}

// targetExpr reads the expression of a Prometheus target, whether it was
// built with the SDK or decoded without the SDK's plugin registry.
func targetExpr(t variants.Dataquery) string {
	switch q := t.(type) {
	case *prometheus.Dataquery:
		return q.Expr
	case prometheus.Dataquery:
		return q.Expr
	case variants.UnknownDataquery:
		s, _ := q["expr"].(string)
		return s
	}
	return ""
}

// variableExpr turns a Prometheus variable query into the PromQL it runs.
func variableExpr(q string) string {
	q = strings.TrimSpace(q)
	if inner, ok := call(q, "query_result"); ok {
		return inner
	}
	if inner, ok := call(q, "label_values"); ok {
		// label_values(LABEL) has no selector; label_values(SELECTOR, LABEL)
		// ends in the label name, which never holds a comma.
		i := strings.LastIndexByte(inner, ',')
		if i < 0 {
			return ""
		}
		return strings.TrimSpace(inner[:i])
	}
	return q
}

// call returns the argument text of fn(...) when q is exactly such a call.
func call(q, fn string) (string, bool) {
	if !strings.HasPrefix(q, fn+"(") || !strings.HasSuffix(q, ")") {
		return "", false
	}
	return strings.TrimSpace(q[len(fn)+1 : len(q)-1]), true
}

// Expand substitutes Grafana's template variables in a dashboard expression so
// that a real Prometheus can run it, choosing what Grafana itself sends when
// every variable is left at "All" on a short time range:
//
//   - $job, $instance, $token (and ${job}, ...) become .+ — the dashboards use
//     them only as regex matchers (=~"$job"), and .+ is the job and instance
//     variables' "All" value (token's "All" is the list of its values, a subset);
//   - $__rate_interval and $__interval become 1m, long enough for rate() at any
//     scrape interval up to 15s;
//   - $__range becomes 1h, $__range_s 3600 and $__range_ms 3600000;
//   - $__interval_ms becomes 60000.
//
// Anything else is left as it is, so a new variable shows up as a parse error.
func Expand(expr string) string {
	return strings.NewReplacer(
		// Longer names first: the replacer tries the pairs in this order.
		"${__rate_interval}", "1m",
		"$__rate_interval", "1m",
		"${__interval_ms}", "60000",
		"$__interval_ms", "60000",
		"${__interval}", "1m",
		"$__interval", "1m",
		"${__range_ms}", "3600000",
		"$__range_ms", "3600000",
		"${__range_s}", "3600",
		"$__range_s", "3600",
		"${__range}", "1h",
		"$__range", "1h",
		"${job}", ".+",
		"$job", ".+",
		"${instance}", ".+",
		"$instance", ".+",
		"${token}", ".+",
		"$token", ".+",
	).Replace(expr)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
