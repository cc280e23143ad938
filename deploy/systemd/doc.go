// Package systemd holds the tests of jwtwatch's systemd unit
// (jwtwatch.service and the credentials drop-in beside it).
package systemd
