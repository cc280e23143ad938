package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// variables are the template variables both dashboards share: the
// Prometheus to ask, and which jobs, replicas and token families to show.
func variables() []cog.Builder[dashboard.VariableModel] {
	all := dashboard.VariableOption{
		Text:  dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
	labelValues := func(name, label, q, description string) *dashboard.QueryVariableBuilder {
		return dashboard.NewQueryVariableBuilder(name).
			Label(label).
			Description(description).
			Datasource(datasource()).
			Query(dashboard.StringOrMap{String: ptr(q)}).
			Definition(q).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortNaturalAsc).
			Multi(true).
			IncludeAll(true).
			Current(all)
	}
	return []cog.Builder[dashboard.VariableModel]{
		dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Description("The Prometheus that scrapes the jwtwatch sidecars.").
			Type("prometheus"),
		// .+ rather than the list of every value keeps the queries short
		// when there are many replicas; every series has a job and instance.
		labelValues("job", "Job", `label_values(jwtwatch_build_info, job)`,
			"Prometheus jobs that scrape jwtwatch sidecars.").
			AllValue(".+"),
		labelValues("instance", "Replica", `label_values(jwtwatch_build_info{job=~"$job"}, instance)`,
			"jwtwatch sidecars (one per gateway replica).").
			AllValue(".+"),
		// No custom "All" value: token="unknown" (tokens no key recognises)
		// must stay out of the per-family panels.
		labelValues("token", "Token family", `label_values(jwtwatch_key_info, token)`,
			"Token families with a loaded key: access, refresh."),
	}
}
