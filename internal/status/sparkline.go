package status

import (
	"fmt"
	"strings"
)

// Sparkline geometry, in SVG user units.
const (
	sparkWidth  = 288
	sparkHeight = 40
	sparkBin    = 5 // minutes per point: 24 h is 288 points
)

// sparkline is a server-rendered SVG area chart of per-minute counts.
type sparkline struct {
	Width, Height int
	// Area is the SVG path data of the filled area, Line its top edge.
	Area, Line string
	// PeakPerMinute is the largest count of one minute.
	PeakPerMinute uint64
	Total         uint64
}

// newSparkline bins the counts (oldest first) into points of sparkBin
// minutes, scaled so that the busiest point touches the top.
func newSparkline(perMinute []uint64) sparkline {
	s := sparkline{Width: sparkWidth, Height: sparkHeight}
	var bins []uint64
	for i := 0; i < len(perMinute); i += sparkBin {
		var b uint64
		for _, c := range perMinute[i:min(i+sparkBin, len(perMinute))] {
			b += c
			s.PeakPerMinute = max(s.PeakPerMinute, c)
			s.Total += c
		}
		bins = append(bins, b)
	}
	var peak uint64
	for _, b := range bins {
		peak = max(peak, b)
	}
	if len(bins) == 0 {
		return s
	}
	step := float64(sparkWidth) / float64(max(len(bins)-1, 1))
	var line strings.Builder
	for i, b := range bins {
		// 1 unit of margin keeps the stroke inside the box; zero lies on the floor.
		y := float64(sparkHeight - 1)
		if peak > 0 {
			y = 1 + float64(sparkHeight-2)*(1-float64(b)/float64(peak))
		}
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&line, "%s%.1f %.1f ", cmd, float64(i)*step, y)
	}
	s.Line = strings.TrimSpace(line.String())
	s.Area = fmt.Sprintf("%s L%d %d L0 %d Z", s.Line, sparkWidth, sparkHeight, sparkHeight)
	return s
}
