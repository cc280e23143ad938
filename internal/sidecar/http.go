package sidecar

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jwtwatch/jwtwatch/internal/status"
)

// handler serves the metrics, the health and readiness probes and the status page.
func (s *sidecar) handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(s.opts.TelemetryPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:          reg,
		EnableOpenMetrics: true,
		ErrorLog:          slogErrorLog{s},
	}))
	mux.HandleFunc("/api/v1/stragglers", func(w http.ResponseWriter, _ *http.Request) {
		// Clients still presenting valid previous-key tokens: subjects, client
		// ids, user agents and addresses, never tokens; JSON, not metric labels,
		// since they are unbounded.
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s.stragglers.Top()); err != nil {
			s.log.Debug("writing stragglers", "err", err)
		}
	})
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		// Keys are loaded before the server starts; sources open once the tailer says so.
		select {
		case <-s.tailer.Ready():
			fmt.Fprintln(w, "Ready")
		default:
			http.Error(w, "Not ready: log sources are being opened", http.StatusServiceUnavailable)
		}
	})
	if s.opts.TelemetryPath != "/" {
		// The status page, behind the same web config (TLS, basic auth) as the metrics.
		mux.Handle("/", status.Handler(s.statusPage))
	}
	return mux
}

// slogErrorLog adapts the logger for promhttp's error log.
type slogErrorLog struct{ s *sidecar }

func (l slogErrorLog) Println(v ...any) { l.s.log.Error("metrics handler", "err", fmt.Sprint(v...)) }
