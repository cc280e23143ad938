// Package container holds the tests of jwtwatch's container image
// (Dockerfile and Dockerfile.release at the repository's root).
package container
