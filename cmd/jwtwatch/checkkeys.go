package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/jwtwatch/jwtwatch/internal/keycheck"
	"github.com/jwtwatch/jwtwatch/internal/keys"
)

// checkKeysCmd is `jwtwatch check-keys`, the Pre-Rotation Checklist for the keys.
type checkKeysCmd struct {
	clause      *kingpin.CmdClause
	keys        keyFlags
	output      []string
	forbid      []string
	forbidFiles []string
}

func addCheckKeys(app *kingpin.Application) *checkKeysCmd {
	c := &checkKeysCmd{}
	c.clause = app.Command("check-keys", "Pre-Rotation Checklist: check the keys the sidecar would load (same variables, secret files and --keys.file) before they are deployed: fingerprints, lengths, weak and placeholder secrets, whitespace, one key in two places, another environment's keys, what would stop the sidecar. Never prints a secret. Exit 0 clean, 1 problems found, 2 usage error.")
	addKeyFlags(c.clause, &c.keys, false)
	c.clause.Flag("output", "Report format: text or json.").Default("text").SetValue(&enumValue{flag: "output", options: []string{"text", "json"}, dst: &c.output})
	c.clause.Flag("forbid-fingerprint", "A key fingerprint another environment uses (jwtwatch_key_info's fingerprint there); a key here with it is a problem. Repeatable.").PlaceHolder("FINGERPRINT").StringsVar(&c.forbid)
	c.clause.Flag("forbid-fingerprints-file", "A file of such fingerprints, one per line (the rest of the line is a comment; # starts a comment line). Repeatable.").PlaceHolder("PATH").StringsVar(&c.forbidFiles)
	return c
}

func (c *checkKeysCmd) run(ctx context.Context, stdout, stderr io.Writer) int {
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "jwtwatch check-keys: "+format+"\n", args...)
		return exitUsage
	}
	forbidden := map[string]string{}
	for _, f := range c.forbid {
		fp, err := keycheck.ParseFingerprint(f)
		if err != nil {
			return usage("--forbid-fingerprint: %v", err)
		}
		forbidden[fp] = "--forbid-fingerprint"
	}
	for _, name := range c.forbidFiles {
		f, err := os.Open(name)
		if err != nil {
			return usage("--forbid-fingerprints-file: %v", err)
		}
		listed, err := keycheck.ReadForbidden(f, name)
		f.Close()
		if err != nil {
			return usage("--forbid-fingerprints-file: %v", err)
		}
		for fp, where := range listed {
			forbidden[fp] = where
		}
	}
	checked, err := keys.ReadEach(c.keys.config(ctx, time.Now))
	if err != nil {
		return usage("%v", err)
	}
	r := keycheck.Check(checked, forbidden)
	write := r.WriteText
	if c.output[0] == "json" {
		write = r.WriteJSON
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "jwtwatch check-keys: %v\n", err)
		return exitFailed
	}
	if !r.OK {
		return exitFailed
	}
	return exitOK
}
