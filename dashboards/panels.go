package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Label selectors every panel starts from; the variables are regex matchers
// so that "All" and multi-selection work.
const (
	sel      = `job=~"$job", instance=~"$instance"`
	selToken = `job=~"$job", instance=~"$instance", token=~"$token"`
)

const runbookURL = "https://github.com/jwtwatch/jwtwatch/blob/main/docs/runbook.md"

// datasource points every panel, query and variable at the dashboard's
// datasource variable, so one import works against any Prometheus.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${datasource}")}
}

// query is a range query drawn over the dashboard's time range.
func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource()).
		RefId(ref).
		Expr(expr).
		LegendFormat(legend).
		EditorMode(prometheus.QueryEditorModeCode).
		Range()
}

// instant is a query for the latest value only, for stats of a current state.
func instant(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return query(ref, expr, legend).Instant()
}

// timeseriesPanel starts a time series panel with what every one of them
// needs: a description, a unit and a visible legend (the SDK hides it).
func timeseriesPanel(title, description, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			Calcs([]string{})).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending)).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: ptr(false)})
}

// tableLegend is a legend for panels with many series: a table sorted by the
// largest value, so the series that matter come first.
func tableLegend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		ShowLegend(true).
		DisplayMode(common.LegendDisplayModeTable).
		Placement(common.LegendPlacementBottom).
		Calcs([]string{"max", "lastNotNull"}).
		SortBy("Max").
		SortDesc(true)
}

// statPanel starts a stat panel showing the last value of each series.
func statPanel(title, description, unit string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Orientation(common.VizOrientationAuto).
		TextMode(common.BigValueTextModeValueAndName).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().
			Calcs([]string{"lastNotNull"}).
			Values(false))
}

// tablePanel starts a table panel.
func tablePanel(title, description string) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit("string").
		CellHeight(common.TableCellHeightSm).
		// The SDK's default footer has a null reducer, which its own strict
		// decoding (and Grafana's schema) rejects.
		Footer(common.NewTableFooterOptionsBuilder().
			Show(false).
			Reducer([]string{"sum"}).
			CountRows(false))
}

// step is one threshold: from value on, the colour applies.
type step struct {
	value float64
	color string
}

// thresholds colours values: base below the first step, then each step's
// colour from its value upwards.
func thresholds(base string, steps ...step) *dashboard.ThresholdsConfigBuilder {
	ts := []dashboard.Threshold{{Value: nil, Color: base}}
	for _, s := range steps {
		ts = append(ts, dashboard.Threshold{Value: ptr(s.value), Color: s.color})
	}
	return dashboard.NewThresholdsConfigBuilder().
		Mode(dashboard.ThresholdsModeAbsolute).
		Steps(ts)
}

// thresholdLines draws a time series panel's thresholds as dashed lines.
func thresholdLines() *common.GraphThresholdsStyleConfigBuilder {
	return common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)
}

// text is what a value mapping shows instead of a value.
type text struct {
	value, text, color string
}

// valueTexts maps exact values to texts and colours.
func valueTexts(ts ...text) dashboard.ValueMapping {
	opts := make(map[string]dashboard.ValueMappingResult, len(ts))
	for i, t := range ts {
		opts[t.value] = dashboard.ValueMappingResult{Text: ptr(t.text), Color: ptr(t.color), Index: ptr(int32(i))}
	}
	return dashboard.ValueMapping{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}
}

// neverMapping shows "never" for ages computed as time() - 0, the value
// jwtwatch reports for "not seen yet": anything above 30 years.
func neverMapping(index int32, color string) dashboard.ValueMapping {
	return dashboard.ValueMapping{RangeMap: &dashboard.RangeMap{
		Type: dashboard.MappingTypeRangeToText,
		Options: dashboard.DashboardRangeMapOptions{
			From:   ptr(946080000.0),
			To:     nil,
			Result: dashboard.ValueMappingResult{Text: ptr("never"), Color: ptr(color), Index: ptr(index)},
		},
	}}
}

// colorOverride gives the series a field matches a fixed colour.
func colorOverride(color string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": color}}}
}

func ptr[T any](v T) *T { return &v }
