// Package alerts holds jwtwatch's Prometheus recording and alerting rules, their
// tests, and the helper that rewrites the rules' for durations for end-to-end tests.
package alerts
