package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
)

// Flag values whose parse errors name the flag: kingpin's own say only
// "invalid duration", which leaves the user guessing which one.

// durationValue accepts Prometheus-style durations (90s, 24h, 7d, 2w).
type durationValue struct {
	flag string
	d    *time.Duration
}

func (v durationValue) Set(s string) error {
	d, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("--%s: invalid duration %q (use e.g. 30s, 24h, 7d)", v.flag, s)
	}
	*v.d = time.Duration(d)
	return nil
}

func (v durationValue) String() string { return model.Duration(*v.d).String() }

// enumValue accepts one of a fixed set of words; cumulative ones collect several.
type enumValue struct {
	flag       string
	options    []string
	dst        *[]string
	cumulative bool
}

func (v *enumValue) Set(s string) error {
	if !slices.Contains(v.options, s) {
		return fmt.Errorf("--%s: %q is not one of %s", v.flag, s, strings.Join(v.options, ", "))
	}
	if !v.cumulative {
		*v.dst = (*v.dst)[:0]
	}
	*v.dst = append(*v.dst, s)
	return nil
}

func (v *enumValue) String() string     { return strings.Join(*v.dst, ",") }
func (v *enumValue) IsCumulative() bool { return v.cumulative }

// bytesValue accepts sizes such as 512KiB or 1MiB.
type bytesValue struct {
	flag string
	n    *int
}

func (v bytesValue) Set(s string) error {
	b, err := units.ParseBase2Bytes(s)
	if err != nil || b <= 0 {
		return fmt.Errorf("--%s: invalid size %q (use e.g. 512KiB, 1MiB)", v.flag, s)
	}
	*v.n = int(b)
	return nil
}

func (v bytesValue) String() string { return units.Base2Bytes(*v.n).String() }
