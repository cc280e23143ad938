// Package e2e tests jwtwatch together with the servers it is deployed with:
// real Prometheus and Alertmanager binaries load the shipped rules and
// execute the dashboards' queries against jwtwatch replicas.
package e2e
